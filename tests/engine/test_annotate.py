"""Annotated pictures and inpainting masks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from checker.annotate import SEVERITY_RGB, annotated, grow, mask_for, output_path, write_annotations, write_masks
from checker.model import Finding, ImageResult, Region, Report, Severity, Verdict
from fixtures.make_fixtures import A1111_PARAMETERS, save_png, scene
from tests.helpers import run_cli


def finding(region, severity=Severity.ERROR, code="HAND001"):
    return Finding(code, "test.rule", severity, 0.9, "msg", region, {})


@pytest.mark.parametrize("region,dilate,expected", [
    (Region(10, 20, 5, 6), 0, (10, 20, 15, 26)),
    (Region(10, 20, 5, 6), 3, (7, 17, 18, 29)),
    (Region(0, 0, 5, 5), 4, (0, 0, 9, 9)),  # clipped at the top-left
    (Region(95, 45, 10, 10), 2, (93, 43, 100, 50)),  # and at the bottom-right of 100x50
])
def test_grow_clips_to_the_image(region, dilate, expected):
    assert grow(region, dilate, 100, 50) == expected


def test_mask_is_white_exactly_over_the_dilated_regions():
    findings = (finding(Region(10, 20, 5, 6)), finding(Region(40, 5, 3, 3)), finding(None))
    mask = mask_for(findings, 60, 40, dilate=2)
    assert mask.shape == (40, 60) and mask.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 255}
    expected = np.zeros((40, 60), np.uint8)
    expected[18:28, 8:17] = 255
    expected[3:10, 38:45] = 255
    assert np.array_equal(mask, expected)


def test_annotated_outlines_regions_in_the_severity_colour():
    rgb = np.full((200, 300, 3), 128, np.uint8)
    out = annotated(rgb, (finding(Region(50, 60, 100, 80), Severity.WARNING, "TEXT001"),))
    assert out.shape == rgb.shape
    colour = np.array(SEVERITY_RGB[Severity.WARNING])
    outline = (out == colour).all(axis=2)
    assert outline[60 + 40, 50] and outline[60 + 40, 149], "left and right edges drawn"
    assert not outline[100, 100], "the inside is left as it was"
    assert (out[100, 100] == 128).all()
    assert outline[:60].any(), "a label sits above the box"
    assert (rgb == 128).all(), "the input array is not modified"


def test_output_paths_mirror_relative_paths_and_avoid_collisions(tmp_path):
    taken: set[Path] = set()
    assert output_path(tmp_path, "art/a.jpg", ".png", taken) == tmp_path / "art" / "a.png"
    assert output_path(tmp_path, "art/a.png", ".png", taken) == tmp_path / "art" / "a.png.png"
    assert output_path(tmp_path, "/abs/where/b.webp", ".png", taken) == tmp_path / "b.png"
    assert output_path(tmp_path, "../up/c.png", ".png", taken) == tmp_path / "c.png"


def make_report(folder: Path) -> Report:
    flagged = save_png(folder / "flagged.png", scene(120, 90, seed=1))
    whole = save_png(folder / "whole.png", scene(120, 90, seed=2))
    clean = save_png(folder / "clean.png", scene(120, 90, seed=3))
    return Report("0.1.0", "lenient", {}, (
        ImageResult(str(flagged), "0" * 64, 120, 90, Verdict.FAIL, (finding(Region(10, 10, 20, 20)),), {}),
        ImageResult(str(whole), "1" * 64, 120, 90, Verdict.WARN, (finding(None, Severity.WARNING, "META001"),), {}),
        ImageResult(str(clean), "2" * 64, 120, 90, Verdict.PASS, (), {}),
        ImageResult(str(folder / "gone.png"), None, None, None, Verdict.ERROR, (finding(None),), {}),
    ))


def test_write_annotations_and_masks_for_flagged_images_only(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    report = make_report(inputs)
    before = {p: p.read_bytes() for p in inputs.iterdir()}
    notes = write_annotations(report, tmp_path / "notes")
    assert sorted(p.name for p in notes.written) == ["flagged.png", "whole.png"]
    masks = write_masks(report, tmp_path / "masks", dilate=5)
    assert [p.name for p in masks.written] == ["flagged.png"], "only images with a region get a mask"
    mask = np.asarray(Image.open(masks.written[0]))
    assert mask.shape == (90, 120) and mask[5:35, 5:35].min() == 255 and mask[40:, 40:].max() == 0
    assert {p: p.read_bytes() for p in inputs.iterdir()} == before, "inputs untouched"


def test_never_overwrites_a_checked_image(tmp_path):
    report = make_report(tmp_path)
    before = (tmp_path / "flagged.png").read_bytes()
    outcome = write_masks(report, tmp_path)  # the user named the input folder itself
    assert outcome.written == ()
    assert any("is a checked image" in why for _, why in outcome.skipped)
    assert (tmp_path / "flagged.png").read_bytes() == before


def test_cli_annotate_and_masks(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    save_png(images / "leak.png", scene(96, 64, seed=1), {"parameters": A1111_PARAMETERS})
    save_png(images / "ok.png", scene(96, 64, seed=2))
    proc = run_cli("check", "imgs", "--select", "META001", "--jobs", "0", "--no-cache",
                   "--annotate", "out/annotated", "--masks", "out/masks", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "annotated").rglob("*.png")) == ["leak.png"]
    assert not (tmp_path / "out" / "masks").exists() or not list((tmp_path / "out" / "masks").rglob("*.png"))
    assert sorted(p.name for p in images.iterdir()) == ["leak.png", "ok.png"]
    assert "wrote 1 annotated images" in proc.stderr


def test_report_output_never_replaces_a_checked_image(tmp_path):
    image = save_png(tmp_path / "a.png", scene(96, 64, seed=1))
    before = image.read_bytes()
    proc = run_cli("check", str(tmp_path), "--format", "html", "--output", str(image), "--select", "META001",
                   "--jobs", "0", "--no-cache", cwd=tmp_path)
    assert proc.returncode == 2 and "would be overwritten" in proc.stderr
    assert image.read_bytes() == before


def test_a_users_own_file_in_the_pictures_folder_is_never_overwritten(tmp_path):
    """--masks DIR where DIR already holds the user's a.png (an excluded image, a mask of
    their own): it stays byte-identical; noticer's mask goes beside it, and says so."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    report = make_report(inputs)
    masks = tmp_path / "masks"
    masks.mkdir()
    own = save_png(masks / "flagged.png", scene(50, 40, seed=9))
    before = own.read_bytes()
    outcome = write_masks(report, masks)
    assert own.read_bytes() == before
    assert [p.name for p in outcome.written] == ["flagged.mask.png"]
    assert any("flagged.mask.png" in what and "left as it is" in what for _, what in outcome.notes)
    # a second user file in the way of the second choice: the third is taken
    second = save_png(masks / "flagged.mask.png", scene(50, 40, seed=10))
    second_bytes = second.read_bytes()
    second.touch()
    (masks / ".noticer-pictures.json").unlink()  # forget: flagged.mask.png is now the user's
    outcome = write_masks(report, masks)
    assert [p.name for p in outcome.written] == ["flagged.mask-2.png"]
    assert own.read_bytes() == before and second.read_bytes() == second_bytes


def test_rerunning_replaces_noticers_own_pictures_without_piling_up_copies(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    report = make_report(inputs)
    out = tmp_path / "notes"
    first = write_annotations(report, out)
    for _ in range(2):
        again = write_annotations(report, out)
        assert again.written == first.written and not again.notes
    assert sorted(p.name for p in out.iterdir()) == [".noticer-pictures.json", "flagged.png", "whole.png"]
    # noticer's picture edited by the user since: it is theirs now, and is kept
    edited = out / "flagged.png"
    edited.write_bytes(edited.read_bytes() + b"edited")
    kept = edited.read_bytes()
    after_edit = write_annotations(report, out)
    assert edited.read_bytes() == kept
    assert sorted(p.name for p in after_edit.written) == ["flagged.annotated.png", "whole.png"]


def test_a_file_posing_as_the_manifest_is_left_alone(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    report = make_report(inputs)
    out = tmp_path / "masks"
    out.mkdir()
    (out / ".noticer-pictures.json").write_text('{"files": {"flagged.png": "x"}}')
    save_png(out / "flagged.png", scene(50, 40, seed=9))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    outcome = write_masks(report, out)
    assert {name: (out / name).read_bytes() for name in before} == before
    assert [p.name for p in outcome.written] == ["flagged.mask.png"]
    assert any("not noticer's record" in what for _, what in outcome.notes)


def test_cli_says_where_a_mask_went_instead(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    save_png(images / "leak.png", scene(96, 64, seed=1), {"parameters": A1111_PARAMETERS})
    out = tmp_path / "out"
    (out / "imgs").mkdir(parents=True)  # pictures mirror the report's relative paths
    own = save_png(out / "imgs" / "leak.png", scene(30, 20, seed=4))
    before = own.read_bytes()
    proc = run_cli("check", "imgs", "--select", "META001", "--jobs", "0", "--no-cache", "--annotate", "out",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert own.read_bytes() == before
    assert (out / "imgs" / "leak.annotated.png").is_file()
    assert "written as out/imgs/leak.annotated.png" in proc.stderr
