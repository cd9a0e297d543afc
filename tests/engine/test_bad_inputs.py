"""Bad input gets a clear answer and nothing is lost (engine issue)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from checker.imageio import ImageLoadError, load_image
from checker.inputs import find_images
from fixtures.make_fixtures import make_bad_inputs
from tests.helpers import run_json, validate_report, without_timings

BROKEN = {"zero_byte", "truncated_png", "truncated_jpeg", "text_as_png", "bomb", "dangling_link"}
READABLE = {"good", "png16", "cmyk_jpeg", "palette_png", "animated_gif", "animated_webp", "exif_rotated",
            "odd_name"}


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return make_bad_inputs(tmp_path_factory.mktemp("bad inputs"))


def _fingerprint(folder: Path) -> dict[str, tuple]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink() or not p.is_file():
            continue
        st = p.stat()
        data = p.read_bytes() if os.access(p, os.R_OK) else b""
        out[str(p)] = (hashlib.sha256(data).hexdigest(), st.st_mtime_ns, st.st_mode, st.st_size)
    return out


@pytest.fixture(scope="module")
def reports(bad):
    folder = bad["good"].parent
    before = _fingerprint(folder)
    listing_before = sorted(os.listdir(folder))
    proc1, rep1 = run_json(folder, "--jobs", "1")
    proc2, rep2 = run_json(folder, "--jobs", "2")
    assert _fingerprint(folder) == before, "an input file was changed"
    assert sorted(os.listdir(folder)) == listing_before, "something was written into the input folder"
    return proc1, rep1, proc2, rep2


def _by_name(report):
    return {Path(i["path"]).name: i for i in report["images"]}


def test_every_file_is_reported_and_the_run_exits_1(bad, reports):
    proc1, rep1, _, _ = reports
    assert proc1.returncode == 1
    names = set(_by_name(rep1))
    expected = {bad[k].name for k in BROKEN | READABLE} | {bad["unreadable"].name}
    assert expected <= names
    validate_report(rep1)


def test_broken_files_are_img001_errors_with_clear_messages(bad, reports):
    images = _by_name(reports[1])
    for key in BROKEN:
        image = images[bad[key].name]
        assert image["verdict"] == "error", key
        (finding,) = image["findings"]
        assert finding["code"] == "IMG001" and finding["severity"] == "error"
    assert "0 bytes" in images[bad["zero_byte"].name]["findings"][0]["message"]
    assert "decompression bomb" in images[bad["bomb"].name]["findings"][0]["message"]
    assert "not an image" in images[bad["text_as_png"].name]["findings"][0]["message"]
    assert "truncated" in images[bad["truncated_png"].name]["findings"][0]["message"]
    assert "truncated" in images[bad["truncated_jpeg"].name]["findings"][0]["message"]


def test_awkward_but_valid_files_are_checked(bad, reports):
    images = _by_name(reports[1])
    for key in READABLE:
        assert images[bad[key].name]["verdict"] != "error", (key, images[bad[key].name])
    assert images[bad["png16"].name]["width"] == 256
    assert images[bad["exif_rotated"].name]["width"] == 100  # displayed orientation
    assert images[bad["exif_rotated"].name]["height"] == 200


def test_unreadable_file(bad, reports):
    image = _by_name(reports[1])[bad["unreadable"].name]
    if os.access(bad["unreadable"], os.R_OK):
        # running as root: permissions do not stop reading, so the file is checked normally
        assert image["verdict"] != "error"
    else:
        assert image["verdict"] == "error" and "permission" in image["findings"][0]["message"]


def test_jobs_2_gives_the_same_report_as_jobs_1(reports):
    _, rep1, _, rep2 = reports
    assert without_timings(rep1) == without_timings(rep2)


def test_symlink_loop_is_walked_once_with_a_warning(bad, reports):
    proc1 = reports[0]
    assert "symlink loop" in proc1.stderr
    paths = [i["path"] for i in reports[1]["images"]]
    assert len(paths) == len(set(paths))
    assert not any("/loop/again/" in p for p in paths)


def test_exif_orientation_matches_pil_transpose(bad):
    loaded = load_image(bad["exif_rotated"])
    expected = np.asarray(ImageOps.exif_transpose(Image.open(bad["exif_rotated"])).convert("RGB"))
    assert loaded.rgb.shape == expected.shape == (200, 100, 3)
    assert np.abs(loaded.rgb.astype(int) - expected.astype(int)).mean() < 2
    assert loaded.rgb[5, 95, 0] > 200 and loaded.rgb[5, 95, 1] < 60  # red block now top-right


def test_sixteen_bit_keeps_its_tones(bad):
    loaded = load_image(bad["png16"])
    assert loaded.rgb.dtype == np.uint8
    assert loaded.rgb[:, 0].mean() < 5 and loaded.rgb[:, -1].mean() > 250


def test_palette_transparency_and_cmyk(bad):
    pal = load_image(bad["palette_png"])
    assert pal.alpha is not None and (pal.alpha == 0).any()
    cmyk = load_image(bad["cmyk_jpeg"])
    good = load_image(bad["good"])
    assert cmyk.rgb.shape == good.rgb.shape
    assert np.abs(cmyk.rgb.astype(int) - good.rgb.astype(int)).mean() < 12


@pytest.mark.parametrize("ink,ground", [((0, 0, 0), 255), ((255, 255, 255), 0)])
def test_transparency_is_shown_over_a_ground_that_contrasts_with_the_content(tmp_path, ink, ground):
    """Dark text on a transparent ground (a sticker, a logo) was black on black: the colour
    under transparent pixels is often black. It now shows on white; light text on black."""
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[10:30, 10:50, :3] = ink
    rgba[10:30, 10:50, 3] = 255
    rgba[0, 0, 3] = 128  # half transparent: blended
    path = tmp_path / "sticker.png"
    Image.fromarray(rgba, "RGBA").save(path)
    loaded = load_image(path)
    assert loaded.alpha is not None and loaded.alpha[0, 0] == 128
    assert (loaded.rgb[20, 20] == ink).all()
    assert (loaded.rgb[35, 55] == ground).all()
    assert abs(int(loaded.rgb[0, 0, 0]) - round(ground * (1 - 128 / 255))) <= 1  # its own colour is black


@pytest.mark.parametrize("shape", [(1, 1), (1, 50), (50, 1), (3, 300), (5, 5)])
def test_no_rule_crashes_on_a_tiny_image(shape):
    """A 1x1 PNG made ALIGN003 crash (OpenCV's line detector asserts under 6 px)."""
    from checker.discovery import discover_rules
    from checker.testing import run_rule

    image = np.zeros((*shape, 3), np.uint8)
    image[: shape[0] // 2] = 200
    checked = [rule for rule in discover_rules().rules if rule.check is not None]  # IMG001 is the runner's
    assert len(checked) >= 10
    for rule in checked:
        run_rule(rule, image, profile="strict")  # raises if the rule crashes


def test_a_multi_line_message_stays_on_one_line_of_the_text_report():
    from checker.formats.text import TextFormat
    from checker.model import Finding, ImageResult, Report, Severity, Verdict

    finding = Finding(code="IMG001", rule="image.unreadable", severity=Severity.ERROR, confidence=1.0,
                      message="crashed: error\n  in Mat\n", region=None, measurements={})
    image = ImageResult("a.png", None, None, None, Verdict.ERROR, (finding,), {})
    report = Report("0", "lenient", {}, (image,))
    assert TextFormat().render(report).splitlines()[0] == "a.png:-: IMG001 crashed: error in Mat [error]"
    named = Report("0", "lenient", {}, (ImageResult("two\nlines.png", None, None, None, Verdict.ERROR, (finding,), {}),))
    assert TextFormat().render(named).splitlines()[0].startswith("two\\nlines.png:-: IMG001")


def test_a_png_with_megabytes_of_workflow_text_is_read(tmp_path):
    """A ComfyUI workflow of a few MiB was over Pillow's 1 MiB text-chunk limit: the image was
    'unreadable' and its metadata leak unreported (found by a review)."""
    import json as json_module

    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    workflow = json_module.dumps({"nodes": [{"id": i, "widgets_values": ["x" * 60]} for i in range(40000)]})
    assert len(workflow) > 3 << 20
    info.add_text("workflow", workflow, zip=True)
    info.add_text("prompt", json_module.dumps({"1": {"class_type": "CLIPTextEncode", "inputs": {"text": "a castle"}}}))
    path = tmp_path / "big.png"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(path, pnginfo=info)
    loaded = load_image(path)
    assert len(loaded.info["workflow"]) == len(workflow)


def test_an_opaque_rgba_image_keeps_its_pixels(tmp_path):
    rgb = np.random.default_rng(3).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    path = tmp_path / "opaque.png"
    Image.fromarray(np.dstack([rgb, np.full((20, 30), 255, np.uint8)]), "RGBA").save(path)
    assert (load_image(path).rgb == rgb).all()


def test_animated_first_frame_and_frame_count(bad):
    for key in ("animated_gif", "animated_webp"):
        loaded = load_image(bad[key])
        assert loaded.frames == 3 and loaded.rgb.shape == (96, 128, 3)


def test_animated_findings_say_only_the_first_frame_was_checked(tmp_path):
    from fixtures.make_fixtures import scene
    from tests.helpers import run_json

    frames = [Image.fromarray(scene(40, 30, seed=s)) for s in range(2)]  # too small: IMG002
    frames[0].save(tmp_path / "tiny.gif", save_all=True, append_images=frames[1:], duration=50)
    _, rep = run_json(tmp_path, "--jobs", "0")
    (finding,) = rep["images"][0]["findings"]
    assert finding["code"] == "IMG002"
    assert finding["measurements"]["frames"] == 2 and finding["measurements"]["checked_frame"] == 0


def test_max_pixels_is_a_setting(bad, tmp_path):
    with pytest.raises(ImageLoadError, match="max-pixels 1000"):
        load_image(bad["good"], max_pixels=1000)
    _, rep = run_json(bad["good"], "--max-pixels", "1000", "--jobs", "0")
    assert rep["images"][0]["findings"][0]["code"] == "IMG001"


def test_find_images_skips_non_images_and_reports_missing_paths(bad, tmp_path):
    (tmp_path / "readme.md").write_text("hi")
    Image.fromarray(np.zeros((70, 70, 3), np.uint8)).save(tmp_path / "a.PNG")
    images, problems = find_images([tmp_path, tmp_path / "missing"])
    assert [p.name for p in images] == ["a.PNG"]
    assert problems and "no such" in problems[0][1]


def test_a_fifo_named_like_an_image_is_refused_not_waited_on(tmp_path):
    """Opening a FIFO blocks until someone writes to it; noticer must never open one (the cache
    hashes files before checking, so it is exercised with the cache on)."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    Image.fromarray(np.zeros((80, 80, 3), np.uint8)).save(tmp_path / "ok.png")
    for jobs in ("0", "1"):
        proc, report = run_json(tmp_path, "--jobs", jobs, "--select", "IMG", "--cache-dir", tmp_path.parent / "c",
                                timeout=120)
        by_name = {Path(i["path"]).name: i for i in report["images"]}
        assert by_name["pipe.png"]["verdict"] == "error"
        assert "not a regular file" in by_name["pipe.png"]["findings"][0]["message"]
        assert by_name["ok.png"]["verdict"] == "pass"


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    import zlib

    return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")


def test_png_metadata_after_the_pixels_is_still_read():
    """The loader skips PIL's extra decode when no metadata chunk follows the pixels; one
    that does (eXIf, text) must still be found."""
    import io

    from checker.imageio import png_has_late_metadata

    rgb = np.zeros((40, 20, 3), np.uint8)
    rgb[:5, :5] = (255, 0, 0)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    plain = buf.getvalue()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    late = (plain[:-12] + _png_chunk(b"eXIf", exif.tobytes()[6:]) + _png_chunk(b"tEXt", b"parameters\x00a red square")
            + plain[-12:])
    assert not png_has_late_metadata(plain) and png_has_late_metadata(late)
    assert load_image(Path("plain.png"), data=plain).exif_orientation == 1
    loaded = load_image(Path("late.png"), data=late)
    assert loaded.exif_orientation == 6 and loaded.rgb.shape == (20, 40, 3)
    assert loaded.info.get("parameters") == "a red square"
    assert png_has_late_metadata(plain[:30])  # a cut chunk list takes the careful path


def test_png_exif_in_the_header_is_read_without_a_second_decode():
    """EXIF before the pixels, as an eXIf chunk or as ImageMagick's "Raw profile type exif"
    text chunk, is read on the fast path too (orientation and the prompt a UserComment holds)."""
    import io

    from PIL.PngImagePlugin import PngInfo

    from checker.imageio import png_has_late_metadata

    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00a cat, Steps: 20"
    raw = exif.tobytes()
    picture = Image.fromarray(np.zeros((10, 20, 3), np.uint8))
    as_chunk, as_text = io.BytesIO(), io.BytesIO()
    picture.save(as_chunk, "PNG", exif=raw)
    info = PngInfo()
    info.add_text("Raw profile type exif", f"\nexif\n{len(raw):8d}\n{raw.hex()}\n")
    picture.save(as_text, "PNG", pnginfo=info)
    for data in (as_chunk.getvalue(), as_text.getvalue()):
        assert not png_has_late_metadata(data)
        loaded = load_image(Path("header.png"), data=data)
        assert loaded.exif_orientation == 6
        assert b"a cat" in loaded.exif_ifd.get(0x9286, b"")
