"""ALIGN001-ALIGN004: the pure measurements on synthetic arrays, the rules on generated images,
and the accuracy figures reached on generated cases and on the real corpus."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from fixtures import align_gen as gen
from checker.rule import DOC_SECTIONS
from checker.testing import context_from_array, context_from_path, run_rule
from rules.align import grids, lines, offsets, seams
from rules.align import ALIGN001, ALIGN002, ALIGN003, ALIGN004, RULES


def gray(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def traced_peak(call):
    """``call()``'s result and the most memory it held at once (``tracemalloc``: NumPy's
    arrays are counted)."""
    import tracemalloc

    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    return gen.drawn_scene(3, (768, 768))


# ---------------------------------------------------------------------------------------- rules


def test_rules_are_declared_with_full_docs():
    assert [r.code for r in RULES] == ["ALIGN001", "ALIGN002", "ALIGN003", "ALIGN004"]
    for rule in RULES:
        sections = rule.doc_sections()
        assert set(DOC_SECTIONS) <= set(sections), rule.code
        assert all(sections[s] for s in DOC_SECTIONS), rule.code
        assert set(rule.profiles) == {"lenient", "strict"}


# ---------------------------------------------------------------------------------------- ALIGN001


def test_clean_scene_has_no_seam(scene):
    assert seams.find_seams(gray(scene), ALIGN001.settings().thresholds()) == []


@pytest.mark.parametrize("step", [6, 12])
def test_brightness_steps_are_found_where_the_tiles_meet(scene, step):
    damaged, truth = gen.tile_brightness(scene, 256, step)
    lines = seams.find_seams(gray(damaged), ALIGN001.settings().thresholds())
    assert lines, "no seam found"
    for line in lines:  # every seam found is a true one, within 2 px
        assert any(t.axis == line.axis and abs(t.position - line.position) <= 2 for t in truth), line
    assert all(abs(line.step) >= 2 for line in lines if line.step_z > line.shift_ratio)


def test_content_shift_is_found(scene):
    damaged, truth = gen.tile_shift(scene, 256, 4, seed=1)
    lines = seams.find_seams(gray(damaged), seams.SeamThresholds(shift_ratio=1.6, step_z=8, min_length=0.2))
    assert any(any(t.axis == s.axis and abs(t.position - s.position) <= 2 for t in truth) for s in lines)


@pytest.mark.parametrize("make", [
    lambda: gen.flat_and_gradient(1, (768, 768)),  # flat panels, pixel-sharp borders, gradients
    lambda: gen.jpeg_roundtrip(gen.drawn_scene(4, (768, 768)), 75),  # JPEG 8x8 blocking
    lambda: np.repeat(np.repeat(gen.drawn_scene(5, (192, 192)), 4, axis=0), 4, axis=1),  # nearest upscale
])
def test_things_that_are_not_seams(make):
    assert run_rule(ALIGN001, make(), "strict") == []


def test_tile_grid_is_one_finding(scene):
    damaged, _ = gen.tile_brightness(np.concatenate([scene, scene[:, :256]], axis=1), 256, 10)
    findings = run_rule(ALIGN001, damaged)
    grids = [f for f in findings if "tile_size" in f.measurements]
    assert len(grids) == 1
    assert grids[0].measurements["tile_size"] == 256
    assert grids[0].code == "ALIGN001" and grids[0].rule == "align.seam"


def test_find_tile_grid_on_positions():
    def line(axis, pos):
        return seams.SeamLine(axis, pos, 0, 512, 2.0, 4.0, 20.0, 1.0, 3.0)

    lines = [line("horizontal", 512), line("horizontal", 1024), line("vertical", 511), line("vertical", 1536)]
    grid = seams.find_tile_grid(lines + [line("vertical", 700)])
    assert grid is not None and grid.tile == 512 and len(grid.seams) == 4
    assert seams.find_tile_grid(lines[:2]) is None


def test_dominant_period_of_a_latent_grid_profile():
    rng = np.random.default_rng(0)
    profile = rng.normal(10, 0.3, 600)
    profile[::12] += 3
    assert seams.dominant_period(profile) == 12
    assert seams.dominant_period(rng.normal(10, 0.3, 600)) is None


def test_seam_evidence_in_row_chunks_is_the_same_to_the_bit(monkeypatch):
    # an odd-sized tile-shift case, once in one piece and once a few rows at a time
    rgb, _truth = gen.tile_shift(gen.drawn_scene(5, (301, 517)), 128, 3, 5)
    g = gray(rgb)
    whole = seams.seam_evidence(g)
    whole_changes = np.abs(np.diff(g, axis=0)).mean(axis=1)
    monkeypatch.setattr(seams, "CHUNK_BYTES", 7 * 4 * 517)  # 7 rows a chunk: 43 chunks
    assert len(seams.row_chunks(300, 517)) == 43
    chunked = seams.seam_evidence(g)
    assert whole.keys() == chunked.keys()
    for key in whole:
        assert whole[key].dtype == chunked[key].dtype and np.array_equal(whole[key], chunked[key]), key
    changes = seams.mean_abs_row_change(g)
    assert changes.dtype == np.float32 and np.array_equal(changes, whole_changes)


def test_seams_of_the_uint8_image_are_those_of_its_float32_copy():
    """The rule passes the uint8 gray image; every measurement must be what the float32 copy
    it used to pass gave: the evidence arrays to the bit, the seams found, and the helpers that
    look at single rows (cell jumps, texture, flat share, repeated columns)."""
    import cv2

    cases = [gen.tile_shift(gen.drawn_scene(5, (301, 517)), 128, 3, 5)[0],
             gen.tile_brightness(gen.drawn_scene(23, (600, 600)), 200, 4)[0]]
    base = gen.tile_brightness(gen.drawn_scene(5, (128, 128)), 64, 8)[0]
    cases.append(np.repeat(np.repeat(base, 4, axis=0), 3, axis=1))  # a nearest-neighbour upscale
    found = 0
    for rgb in cases:
        g8 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        g32 = g8.astype(np.float32)
        for a8, a32 in ((g8, g32), (cv2.transpose(g8), cv2.transpose(g32))):
            ev8, ev32 = seams.seam_evidence(a8), seams.seam_evidence(a32)
            for key in ev32:
                assert ev8[key].dtype == ev32[key].dtype and np.array_equal(ev8[key], ev32[key]), key
            assert np.array_equal(seams.mean_abs_row_change(a8), seams.mean_abs_row_change(a32))
            assert np.array_equal(seams._mean_abs_column_change(a8), seams._mean_abs_column_change(a32))
            for i in (3, a8.shape[0] // 2, a8.shape[0] - 10):
                assert seams._texture_ratio(a8, i, 0, a8.shape[1]) == seams._texture_ratio(a32, i, 0, a32.shape[1])
                assert seams._flat_share(a8, i, 0, a8.shape[1]) == seams._flat_share(a32, i, 0, a32.shape[1])
                for j8, j32 in zip(seams._cell_jumps(a8, i, 0, 64, a8.shape[1] // 64, seams.SeamParams()),
                                   seams._cell_jumps(a32, i, 0, 64, a32.shape[1] // 64, seams.SeamParams())):
                    assert np.array_equal(j8, j32)
        lines = seams.find_seams(g8, ALIGN001.settings().thresholds())
        assert lines == seams.find_seams(g32, ALIGN001.settings().thresholds())
        found += len(lines)
    assert found  # the cases carry seams: the comparison covers the seam-judging code


def test_vertical_seam_search_of_uint8_holds_no_float_copy(monkeypatch):
    # the vertical axis is searched on the transposed image: of the uint8 image, 1 byte a
    # pixel; a float32 copy (transposed or not) would be 4. The evidence arrays (~25 of one
    # float32 per 64 px band of each row) add ~1.6 bytes a pixel: 2.6 in all, 5.6 with a
    # float copy. Chunks of 256 KiB (1/16 of the image) keep the row differences small.
    g8 = gray(gen.drawn_scene(2, (512, 512))).astype(np.uint8)
    g8 = np.ascontiguousarray(np.tile(g8, (4, 4)))
    monkeypatch.setattr(seams, "CHUNK_BYTES", 1 << 18)
    _, peak = traced_peak(lambda: seams.find_seams_one_axis(g8, "vertical", seams.SeamThresholds()))
    assert peak < 3.5 * g8.nbytes, peak / g8.nbytes


def test_seam_search_holds_no_image_sized_temporary():
    # 2048 x 2048 float32: 16 MiB. One row difference of the whole image was 16 MiB, its
    # absolute value another 16; chunks of CHUNK_BYTES (4 MiB) keep the peak well below that
    g = gray(gen.drawn_scene(2, (512, 512)))
    g = np.ascontiguousarray(np.tile(g, (4, 4)))
    _, peak = traced_peak(lambda: seams.find_seams_one_axis(g, "horizontal", seams.SeamThresholds()))
    assert peak < 0.6 * g.nbytes, peak


# ---------------------------------------------------------------------------------------- ALIGN002


@pytest.mark.parametrize("period", [2, 4])
def test_checkerboard_period_and_cover(scene, period):
    damaged, _ = gen.checkerboard(scene, 3, period)
    (finding,) = run_rule(ALIGN002, damaged)
    assert finding.measurements["period"] == period
    assert finding.measurements["coverage"] > 0.9
    assert 2.0 < finding.measurements["amplitude"] < 4.0


def test_checkerboard_over_part_of_the_image(scene):
    damaged, (x, y, w, h) = gen.checkerboard(scene, 4, 2, area=0.3)
    (finding,) = run_rule(ALIGN002, damaged)
    assert 0.15 < finding.measurements["coverage"] < 0.5
    assert finding.region.x <= x + 64 and finding.region.x + finding.region.width <= x + w + 64


def test_faint_checkerboard_only_in_strict(scene):
    damaged, _ = gen.checkerboard(scene, 1, 2)
    assert run_rule(ALIGN002, damaged, "lenient") == []
    assert len(run_rule(ALIGN002, damaged, "strict")) == 1


@pytest.mark.parametrize("make", [
    lambda: gen.drawn_scene(6, (768, 768)),
    lambda: gen.flat_and_gradient(2, (768, 768)),
])
def test_no_grid_on_clean_images(make):
    assert run_rule(ALIGN002, make(), "strict") == []


def test_jpeg_blocks_are_not_a_grid():
    from checker.context import ImageContext
    from checker.imageio import load_image
    import cv2

    rgb = gen.drawn_scene(7, (768, 768))
    ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1].copy(), [cv2.IMWRITE_JPEG_QUALITY, 60])
    ctx = ImageContext(Path("x.jpg"), load_image(Path("x.jpg"), data=buf.tobytes()))
    assert run_rule(ALIGN002, ctx, "strict") == []


def test_high_pass_is_the_image_less_its_blur_in_one_array(monkeypatch):
    import cv2

    g = gray(gen.drawn_scene(4, (640, 480)))
    expected = g - cv2.GaussianBlur(g, (0, 0), 3.0)
    monkeypatch.setattr(grids, "BLUR_CHUNK_BYTES", 1 << 18)  # bands of 104 rows
    residual, peak = traced_peak(lambda: grids.high_pass(g))
    assert residual.dtype == np.float32 and np.array_equal(residual, expected)
    assert peak < 1.5 * g.nbytes, peak  # the residual itself, not a blurred copy beside it


def test_high_pass_of_uint8_in_bands_is_the_whole_float_formula_to_the_bit(monkeypatch):
    import cv2

    g8 = cv2.cvtColor(gen.drawn_scene(4, (517, 301)), cv2.COLOR_RGB2GRAY)
    g32 = g8.astype(np.float32)
    expected = g32 - cv2.GaussianBlur(g32, (0, 0), 3.0)
    assert np.array_equal(grids.high_pass(g8), expected)  # one band
    monkeypatch.setattr(grids, "BLUR_CHUNK_BYTES", 1)  # the smallest bands: 104 rows, 5 of them
    assert np.array_equal(grids.high_pass(g8), expected)
    # a large image: the float32 result is the only image-sized array (the float copy of the
    # uint8 image beside its blur, each image-sized, made the peak 2x the result)
    big = np.ascontiguousarray(np.tile(g8, (8, 8)))  # 4136 rows of 2408
    monkeypatch.setattr(grids, "BLUR_CHUNK_BYTES", 1 << 20)
    residual, peak = traced_peak(lambda: grids.high_pass(big))
    assert residual.dtype == np.float32 and peak < 1.3 * residual.nbytes, peak / residual.nbytes


def test_folded_templates_recover_a_pattern():
    pattern = np.array([[1.0, -1.0], [-1.0, 1.0]])
    img = np.tile(pattern, (64, 64)) * 3
    templates = grids.folded_templates(img, 2, 32)
    mean_t, amp, consistency = grids.pattern_strength(templates)
    assert templates.shape == (4, 4, 2, 2)
    assert np.allclose(mean_t, pattern * 3) and amp == pytest.approx(3.0) and consistency == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------- ALIGN003


@pytest.mark.parametrize("offset", [2.0, 3.0, 5.0])
def test_broken_stroke_offset_is_measured(offset):
    img, (bx, by) = gen.broken_line_art(4, offset)
    findings = run_rule(ALIGN003, img)
    assert findings
    best = min(findings, key=lambda f: abs(f.measurements["offset_px"] - offset))
    assert best.measurements["offset_px"] == pytest.approx(offset, abs=0.5)
    r = best.region
    assert r.x - 10 <= bx <= r.x + r.width + 10 and r.y - 10 <= by <= r.y + r.height + 10


def test_unbroken_line_art_is_silent():
    img, _ = gen.broken_line_art(4, 0.0)
    assert run_rule(ALIGN003, img) == []


def test_refine_segments_finds_a_subpixel_edge():
    img = np.zeros((100, 200), np.float32)
    img[:, :] = 50
    img[60:, :] = 200
    img[59, :] = 50 + 150 * 0.3  # edge at y = 59.7 (between rows, anti-aliased)
    segments = np.array([[20.0, 58.0, 180.0, 58.0]])  # 1.7 px off
    moved, sides = lines.refine_segments(img, segments)
    assert moved[0, 1] == pytest.approx(59.2, abs=0.4) and moved[0, 3] == pytest.approx(59.2, abs=0.4)
    assert sorted(sides[0].tolist()) == pytest.approx([50.0, 200.0], abs=1.0)


def _thin_stroke(seed: int = 0) -> np.ndarray:
    img = np.full((200, 800), 240.0, np.float32)
    img[100:102, :] = 30.0  # a 2 px stroke: edges at y = 99.5 (top) and 101.5 (bottom)
    return img + np.random.default_rng(seed).normal(0, 2, img.shape).astype(np.float32)


def test_refine_segments_keeps_pieces_of_a_thin_stroke_on_one_edge():
    """Across a 2 px stroke both ends of the +-3 px window show the background: the polarity
    comes from the step at the segment itself, so pieces a pixel off land on the same edge."""
    img = _thin_stroke()
    pieces = np.array([[10.0, y, 190.0, y] for y in (99.0, 99.3, 99.7, 100.0)])  # +x: the normal points down
    for seed in range(3):
        moved, _ = lines.refine_segments(_thin_stroke(seed), pieces)
        assert moved[:, [1, 3]] == pytest.approx(99.5, abs=0.3)
    moved, _ = lines.refine_segments(img, pieces[:, [2, 3, 0, 1]])  # directed the other way: the same edge
    assert moved[:, [1, 3]] == pytest.approx(99.5, abs=0.3)
    # the detector's own segments: the direction tells which edge (darker side along the normal)
    for seed in range(4):
        img = _thin_stroke(seed)
        segs = lines.detect_segments(np.clip(img, 0, 255).astype(np.uint8), 30, merge=False)
        moved, _ = lines.refine_segments(img, segs, polarity=lines.DETECTOR_POLARITY)
        flat = np.abs(segs[:, 3] - segs[:, 1]) < 1.5  # the detector also cuts across the stroke at a slant
        rightward = flat & (segs[:, 2] > segs[:, 0])
        assert rightward.any() and (flat & ~rightward).any()
        assert moved[rightward][:, [1, 3]] == pytest.approx(99.5, abs=0.3)
        assert moved[flat & ~rightward][:, [1, 3]] == pytest.approx(101.5, abs=0.3)


def test_pairing_ignores_stripes_and_takes_offsets():
    a = [0.0, 100.0, 200.0, 100.0]
    continued_off = [230.0, 103.0, 400.0, 103.0]
    stripe = [0.0, 104.0, 200.0, 104.0]  # parallel and overlapping: a second line, not a break
    breaks = lines.pair_broken_segments(np.array([a, continued_off, stripe]), 1.0, 6.0, 1.0, 60.0)
    assert len(breaks) == 1 and breaks[0].offset == pytest.approx(3.0, abs=0.01)
    assert breaks[0].gap == pytest.approx(30.0, abs=0.01)


# ---------------------------------------------------------------------------------------- ALIGN004


def test_no_reference_no_finding(scene):
    assert run_rule(ALIGN004, scene) == []


@pytest.mark.parametrize("dx,dy", [(0.35, -0.2), (2.5, 1.25), (-7.0, 4.5)])
def test_translation_is_estimated_within_a_quarter_pixel(dx, dy):
    base = gen.drawn_scene(11, (512, 512))
    est = offsets.estimate_alignment(gray(gen.shifted_copy(base, dx, dy)), gray(base))
    assert est.dx == pytest.approx(dx, abs=0.25) and est.dy == pytest.approx(dy, abs=0.25)


def test_rotation_and_scale_are_estimated():
    base = gen.drawn_scene(12, (512, 512))
    est = offsets.estimate_alignment(gray(gen.shifted_copy(base, 0, 0, 0.8, 1.02)), gray(base))
    assert est.rotation == pytest.approx(0.8, abs=0.15) and est.scale == pytest.approx(1.02, abs=0.005)


def test_reference_offset_finding(tmp_path, scene):
    from PIL import Image

    ref = tmp_path / "ref.png"
    Image.fromarray(scene).save(ref)
    same = run_rule(ALIGN004, context_from_array(scene, reference_path=ref), "strict")
    assert same == []
    moved = context_from_array(gen.shifted_copy(scene, 3.0, 0.0), reference_path=ref)
    (finding,) = run_rule(ALIGN004, moved)
    assert finding.measurements["dx"] == pytest.approx(3.0, abs=0.25)
    assert "moved" in finding.message
    slight = context_from_array(gen.shifted_copy(scene, 0.5, 0.0), reference_path=ref)
    assert run_rule(ALIGN004, slight, "lenient") == [] and len(run_rule(ALIGN004, slight, "strict")) == 1


def test_a_tile_grid_counts_each_seam_line_once():
    """A line found in pieces (tiles stepping up and down in turn) was counted and listed once
    per piece: '8 seams every 256 px' on a 1024-px image (found by a review)."""
    gallery = Path(__file__).resolve().parents[1] / "fixtures" / "gallery"
    (grid,) = [f for f in run_rule(ALIGN001, gallery / "align_tile_seams.png") if "tile grid" in f.message]
    positions = [tuple(p) for p in grid.measurements["positions"]]
    assert len(positions) == len(set(positions)) == grid.measurements["seams"] >= 3
    assert f"{len(positions)} seam lines every 256 px" in grid.message


def test_each_image_meets_its_own_reference_and_a_broken_reference_is_named(tmp_path, scene):
    """Found by a review: references were matched by file name at the top of the folder only
    (in/b/x.png was never compared; with a top-level x.png, in/a/x.png met b's reference), and
    an unreadable reference made ALIGN004 'crash on this image'."""
    from PIL import Image

    from checker.config import resolve
    from checker.session import run_paths

    for sub in ("a", "b"):
        (tmp_path / "in" / sub).mkdir(parents=True)
        Image.fromarray(scene).save(tmp_path / "in" / sub / "x.png")
        (tmp_path / "ref" / sub).mkdir(parents=True)
    Image.fromarray(scene).save(tmp_path / "ref" / "a" / "x.png")
    Image.fromarray(gen.shifted_copy(scene, 4.0, 0.0)).save(tmp_path / "ref" / "b" / "x.png")
    Image.fromarray(gen.shifted_copy(scene, 4.0, 0.0)).save(tmp_path / "ref" / "x.png")  # a decoy by name
    (tmp_path / "in" / "c.png").write_bytes((tmp_path / "in" / "a" / "x.png").read_bytes())
    (tmp_path / "ref" / "c.png").write_bytes(b"")  # broken
    plan = resolve(RULES, {}, select=["ALIGN004"], cache=False, reference=str(tmp_path / "ref"))
    results = {Path(r.path).relative_to(tmp_path).as_posix(): r
               for r in run_paths([str(p) for p in sorted((tmp_path / "in").rglob("*.png"))], plan, jobs=0)}
    assert results["in/a/x.png"].findings == ()
    assert results["in/a/x.png"].observations["reference"] == str(tmp_path / "ref" / "a" / "x.png")
    assert "moved" in results["in/b/x.png"].findings[0].message
    (broken,) = results["in/c.png"].findings
    assert results["in/c.png"].verdict.value != "error" and "cannot be read" in broken.message
    assert str(tmp_path / "ref" / "c.png") in broken.message
    (tmp_path / "lone.png").write_bytes((tmp_path / "in" / "c.png").read_bytes())
    (lone,) = run_paths([str(tmp_path / "lone.png")], plan, jobs=0)
    assert lone.findings == () and lone.observations["reference"].startswith("none found in")


# ---------------------------------------------------------------------------------------- accuracy


def _recall(rule, images, profile="lenient"):
    return sum(bool(run_rule(rule, img, profile)) for img in images) / len(images)


def test_seam_recall_on_generated_tiles():
    """Reached in bench.align (lenient): steps of 4+ levels in every base image, shifts of
    2 px in 12 of 13; on this smaller set every case is found in both profiles."""
    bases = [gen.drawn_scene(seed, (768, 768)) for seed in (20, 21, 22)]
    steps = [gen.tile_brightness(b, 256, s)[0] for b in bases for s in (4, 8, 12)]
    shifts = [gen.tile_shift(b, 256, s, seed=k)[0] for k, b in enumerate(bases) for s in (2, 3, 4)]
    assert _recall(ALIGN001, steps) == 1.0
    assert _recall(ALIGN001, shifts) == 1.0
    assert _recall(ALIGN001, shifts, "strict") == 1.0


def test_tiles_stepping_up_and_down_along_a_seam_are_one_seam():
    """900 px wide, 200 px tiles: the tile corners fall inside the 64 px bands the line is
    judged in, and the seam steps up, then down, then up along its length."""
    bases = [gen.drawn_scene(seed, (900, 900)) for seed in (23, 24)]
    for base in bases:
        damaged, truth = gen.tile_brightness(base, 200, 4)
        lines = seams.find_seams(gray(damaged), ALIGN001.settings().thresholds())
        assert lines
        assert all(any(t.axis == s.axis and abs(t.position - s.position) <= 2 for t in truth) for s in lines)
        assert any(s.length > 300 for s in lines)  # across tiles of both exposures


def test_step_between_noise_free_flat_fills_is_a_drawn_edge():
    img = np.repeat(np.linspace(60.0, 100.0, 512, dtype=np.float32)[:, None], 512, axis=1)  # flat along rows
    img[300:] += 12.0  # a UI panel: flat colours, no noise
    thresholds = ALIGN001.settings().thresholds()
    assert seams.find_seams(img, thresholds) == []
    assert [s.position for s in seams.find_seams(img, dataclasses.replace(thresholds, max_flat_share=1.01))] == [300]
    noisy = img + np.random.default_rng(0).normal(0, 1.5, img.shape).astype(np.float32)  # generated images carry noise
    assert [s.position for s in seams.find_seams(noisy, thresholds)] == [300]


def test_nearest_neighbour_upscale_of_tile_steps_is_still_a_seam():
    """A 4x nearest-neighbour upscale repeats every pixel four times along the row: the flat-fill
    filter must judge the distinct columns, or noisy content looks 75% flat."""
    base = gen.drawn_scene(5, (256, 256))
    damaged, truth = gen.tile_brightness(base, 128, 8)
    up = np.repeat(np.repeat(damaged, 4, axis=0), 4, axis=1)
    lines = seams.find_seams(gray(up), ALIGN001.settings().thresholds())
    assert {(s.axis, s.position) for s in lines} == {(t.axis, 4 * t.position) for t in truth}
    assert run_rule(ALIGN001, up, "lenient")


def test_nearest_neighbour_upscale_of_a_flat_fill_step_is_still_a_drawn_edge():
    img = np.repeat(np.linspace(60.0, 100.0, 128, dtype=np.float32)[:, None], 128, axis=1)
    img[75:] += 12.0
    img[:, 40:] += 5.0  # a second panel: the columns are not all alike
    up = np.repeat(np.repeat(img, 4, axis=0), 4, axis=1)
    thresholds = ALIGN001.settings().thresholds()
    assert seams.find_seams(up, thresholds) == []
    assert 300 in [s.position for s in seams.find_seams(up, dataclasses.replace(thresholds, max_flat_share=1.01))]
    img[:12] = np.random.default_rng(0).uniform(0, 255, (12, 128))  # a noisy strip far away: every column distinct
    up = np.repeat(np.repeat(img, 4, axis=0), 4, axis=1)
    assert seams.find_seams_one_axis(up, "horizontal", thresholds) == []


@pytest.mark.parametrize("value", [0.0, -0.5])
def test_max_flat_share_must_be_positive(value):
    with pytest.raises(ValueError):
        ALIGN001.settings(max_flat_share=value)
    assert ALIGN001.settings(max_flat_share=1.01).thresholds().max_flat_share == 1.01  # off


def test_broken_line_recall_on_generated_line_art():
    """Reached on this set: at a gap every break in both profiles; behind an occluder 11 of 12
    (lenient) and 10 of 12 (strict); no clean line art flagged."""
    images = [context_from_array(gen.broken_line_art(seed, off)[0]) for seed in range(30, 36) for off in (2.0, 3.0)]
    assert _recall(ALIGN003, images) == 1.0
    assert _recall(ALIGN003, images, "strict") == 1.0
    hidden = [context_from_array(gen.broken_line_art(seed, off, occluder=True)[0])
              for seed in range(30, 36) for off in (2.0, 3.0)]
    assert _recall(ALIGN003, hidden) >= 0.9
    assert _recall(ALIGN003, hidden, "strict") >= 0.8
    clean = [gen.broken_line_art(seed, 0.0)[0] for seed in range(30, 36)]
    assert _recall(ALIGN003, clean, "strict") == 0


def test_chain_joins_pieces_cut_by_crossings_but_not_offset_ones():
    pieces = np.array([[0.0, 100.0, 200.0, 100.0], [212.0, 100.2, 400.0, 100.2], [410.0, 99.9, 600.0, 99.9],
                       [620.0, 103.0, 800.0, 103.0]])  # the last one continues 3 px off
    joined, _sides, counts = lines.chain_collinear(pieces)
    assert sorted(counts.tolist()) == [1, 3]
    long = joined[int(np.argmax(counts))]
    assert long[0] == pytest.approx(0.0, abs=0.5) and long[2] == pytest.approx(600.0, abs=0.5)
    assert long[1] == pytest.approx(100.0, abs=0.3) and long[3] == pytest.approx(100.0, abs=0.3)
    breaks = lines.pair_broken_segments(joined, 1.0, 6.0, 1.0, 60.0)
    assert len(breaks) == 1 and breaks[0].offset == pytest.approx(3.0, abs=0.3)


def test_similar_direction_pairs_match_the_full_matrix_in_small_chunks():
    rng = np.random.default_rng(0)
    angles = rng.choice([0.0, np.pi / 2, np.pi - 0.004, -np.pi + 0.003, 1.0], 300) + rng.normal(0, 0.006, 300)
    direction = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    full = np.triu(direction @ direction.T >= np.cos(np.radians(0.6)), 1)
    expected = set(zip(*(idx.tolist() for idx in np.nonzero(full))))
    chunks = list(lines.similar_direction_pairs(direction, 0.6, budget=50))
    assert len(chunks) > 10 and all(len(rows) <= 300 for rows, _ in chunks)  # at most max(budget, n)
    found = [(i, j) for rows, cols in chunks for i, j in zip(rows.tolist(), cols.tolist())]
    assert len(found) == len(set(found)) and set(found) == expected  # across +-180 degrees too
    assert any(abs(angles[i] - angles[j]) > np.pi for i, j in found)


def test_profile_match_tells_a_moved_edge_from_two_edges():
    img = np.full((200, 400), 240.0, np.float32)
    img[97:101, :200] = 20.0  # a 4 px stroke ...
    img[100:104, 210:] = 20.0  # ... continued 3 px lower after a gap
    br = lines.BrokenLine((10.0, 97.0, 195.0, 97.0), (215.0, 100.0, 390.0, 100.0), 3.0, 0.0, 20.0)
    shift, residual = lines.break_profile_match(img, br)
    assert abs(shift) == pytest.approx(3.0, abs=0.3) and residual < 0.1
    other = img.copy()
    other[100:104, 210:] = 240.0
    other[100:112, 210:] = 20.0  # a 12 px bar whose top edge lines up: a different edge
    shift, residual = lines.break_profile_match(other, br)
    assert residual > 0.3


def test_grid_recall_and_false_alarms_on_generated():
    bases = [gen.drawn_scene(seed, (512, 512)) for seed in (40, 41, 42)]
    visible = [gen.checkerboard(b, a, p)[0] for b in bases for a in (2, 3, 6) for p in (2, 4)]
    assert _recall(ALIGN002, visible) >= 0.95
    assert _recall(ALIGN002, bases + [gen.flat_and_gradient(43, (512, 512))], "strict") == 0


# ---------------------------------------------------------------------------------------- corpus


def _corpus_images(corpus: Path, exclude=("seams",)):
    rows = (corpus / "MANIFEST.tsv").read_text().splitlines()[1:]
    files = [corpus / r.split("\t")[0] for r in rows if r.split("\t")[1] not in exclude]
    return [f for f in files if f.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp") and f.is_file()]


@pytest.fixture(scope="module")
def corpus_contexts(corpus):
    return [context_from_path(p) for p in _corpus_images(corpus)]


@pytest.mark.corpus
@pytest.mark.parametrize("rule,profile,max_rate", [
    # false-alarm rates reached in bench.align on the real corpus, plus a small margin
    # (reached on 442 images: ALIGN001 2 lenient, 5 strict; ALIGN002 0, 1; ALIGN003 2, 5)
    (ALIGN001, "lenient", 0.02), (ALIGN001, "strict", 0.04),
    (ALIGN002, "lenient", 0.01), (ALIGN002, "strict", 0.02),
    (ALIGN003, "lenient", 0.01), (ALIGN003, "strict", 0.04),
])
def test_false_alarms_on_real_clean_images(corpus_contexts, rule, profile, max_rate):
    flagged = [c.path.name for c in corpus_contexts if run_rule(rule, c, profile)]
    assert len(flagged) / len(corpus_contexts) <= max_rate, flagged


@pytest.mark.corpus
def test_real_checkerboard_is_found(corpus):
    (finding,) = run_rule(ALIGN002, corpus / "seams" / "distill_gan_salimans_checkerboard.png")
    assert finding.measurements["period"] == 2


@pytest.mark.corpus
def test_real_outpaint_band_is_found_in_strict(corpus):
    findings = run_rule(ALIGN001, corpus / "seams" / "dreamtextures_outpaint_horizontal_band.png", "strict")
    positions = [f.measurements.get("position") for f in findings]
    # labelled: a horizontal discontinuity at y 929-940, smeared streaks below to y 1110
    assert any(p is not None and 925 <= p <= 1110 for p in positions), positions


def test_gallery_images_trigger_the_rule_they_show(tmp_path):
    from fixtures import align_fixtures

    expected = {"align_tile_seams.png": {"ALIGN001"}, "align_checkerboard.png": {"ALIGN002"},
                "align_broken_line.png": {"ALIGN003"}, "align_clean_scene.png": set()}
    for path in align_fixtures.make_gallery_images(tmp_path):
        ctx = context_from_path(path)
        assert {f.code for rule in RULES for f in run_rule(rule, ctx)} == expected[path.name], path.name


# ---------------------------------------------------------------------------------------- issue #20 kinds
# made by fixtures.align_gen's second set of generators (other methods than the cases above);
# thresholds were tuned on seeds 1000+, these seeds were not looked at while tuning


@pytest.mark.parametrize("stride", [2, 3, 4])
def test_transposed_convolution_grid_over_part_of_the_image(stride):
    """A real stride-``stride`` transposed convolution at 1.5 levels RMS over 40% of the image:
    found in strict with its period (reached: 12 of 12 images here except one stride-4 one),
    too faint for lenient (measured at about 1.1 levels once the texture is filtered out)."""
    bases = [gen.drawn_scene(s, (512, 512)) for s in (20, 21)] + [gen.photo_like(s, (512, 512)) for s in (20, 21)]
    found = []
    for k, base in enumerate(bases):
        img, _box = gen.transposed_conv_grid(base, stride, 1.5, area=0.4, seed=k)
        strict = run_rule(ALIGN002, img, "strict")
        found.append(strict[0].measurements["period"] if strict else None)
        assert run_rule(ALIGN002, img, "lenient") == []
    assert sum(p == stride for p in found) >= (3 if stride == 4 else 4), found


def test_halftone_screen_over_half_the_image():
    for k, base in enumerate([gen.drawn_scene(22, (512, 512)), gen.photo_like(22, (512, 512))]):
        img, _box = gen.halftone_grid(base, 5, 0.12, area=0.5, seed=k)
        (finding,) = run_rule(ALIGN002, img, "lenient")
        assert finding.measurements["period"] == 5 and finding.measurements["coverage"] < 0.8


def test_a_few_agreeing_blocks_are_not_a_partial_grid():
    """A few 64 px blocks agree with their own mean too easily: a partial pattern needs twelve.
    This one covers 9 blocks (a 153 px square of a 512 px photo)."""
    base = gen.photo_like(23, (512, 512))
    img, _box = gen.transposed_conv_grid(base, 2, 3.0, area=0.09, seed=0)
    assert run_rule(ALIGN002, img, "lenient") == []
    assert len(run_rule(ALIGN002, img, "lenient", settings={"min_partial_blocks": 3})) == 1
    with pytest.raises(ValueError):
        ALIGN002.settings(min_partial_blocks=2)


def test_naive_tiled_diffusion_seams_and_their_clean_counterpart():
    for seed in (20, 21, 22):
        img, truth = gen.tiled_diffusion_photo(seed, tile=192)
        findings = run_rule(ALIGN001, img, "lenient")
        positions = {(a, p) for f in findings for a, p in
                     ([tuple(x) for x in f.measurements["positions"]] if "positions" in f.measurements
                      else [(f.measurements["axis"], f.measurements["position"])])}
        assert any(a == t.axis and abs(p - t.position) <= 2 for t in truth for a, p in positions)
        clean, _ = gen.tiled_diffusion_photo(seed, tile=192, independent=False)
        assert run_rule(ALIGN001, clean, "strict") == []


def test_tone_and_texture_steps_in_a_photo():
    """Tiles through their own tone curve and grain, 3-4 levels apart: found in strict in
    10 of 12 textured photos here (a 2-level step in a photo is found in about half)."""
    found = 0
    for seed in range(20, 26):
        base = gen.photo_like(seed)
        for step in (3, 4):
            img, _truth = gen.tone_texture_seams(base, 192, step, 0, seed=seed)
            found += bool(run_rule(ALIGN001, img, "strict"))
    assert found >= 10


def test_line_art_behind_an_occluder():
    """Polygon strokes on paper, one continued 2-3 px off behind an irregular shape: 10 of 12
    found in both profiles; the unbroken drawings are silent."""
    def near(findings, at):
        return any(f.region.x - 10 <= at[0] <= f.region.x + f.region.width + 10
                   and f.region.y - 10 <= at[1] <= f.region.y + f.region.height + 10 for f in findings)

    cases = [gen.occluded_line_art(seed, offset) for seed in range(20, 26) for offset in (2.0, 3.0)]
    contexts = [(context_from_array(img), at) for img, at in cases]
    for profile in ("lenient", "strict"):
        assert sum(near(run_rule(ALIGN003, ctx, profile), at) for ctx, at in contexts) >= 10
    for seed in range(20, 26):
        assert run_rule(ALIGN003, gen.occluded_line_art(seed, 0.0)[0], "strict") == []


def test_a_long_gap_needs_long_pieces():
    """Two 40 px strokes 120 px apart, 3 px off, are too short to extrapolate across the gap;
    strokes of 300 px with the same gap and offset are one line continued off."""
    def strokes(length: float) -> np.ndarray:
        img = np.full((400, 1000, 3), 240, np.uint8)
        import cv2

        x0 = 500 - 60 - length
        cv2.line(img, (int(x0 * 16), 200 * 16), (440 * 16, 200 * 16), (20, 20, 20), 3, cv2.LINE_AA, 4)
        cv2.line(img, (560 * 16, 203 * 16), (int((560 + length) * 16), 203 * 16), (20, 20, 20), 3, cv2.LINE_AA, 4)
        return img + np.random.default_rng(0).normal(0, 1.0, img.shape).clip(-3, 3).astype(np.uint8)

    assert run_rule(ALIGN003, strokes(45.0), "strict") == []
    (finding,) = run_rule(ALIGN003, strokes(300.0), "lenient")
    assert finding.measurements["offset_px"] == pytest.approx(3.0, abs=0.5)


def test_runs_are_the_true_stretches_of_a_mask_at_any_length():
    """seams._runs (a plain loop, for speed on one entry per band) against the definition."""
    rng = np.random.default_rng(7)
    for n in range(0, 40):
        for _ in range(20):
            mask = rng.random(n) < rng.random()
            expected, start = [], None
            for i in range(n + 1):
                inside = i < n and bool(mask[i])
                if inside and start is None:
                    start = i
                if not inside and start is not None:
                    expected.append((start, i))
                    start = None
            assert seams._runs(mask) == expected
    assert seams._runs(np.array([True, True, False, True])) == [(0, 2), (3, 4)]
