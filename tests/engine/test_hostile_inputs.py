"""Issue #17, inputs that used to crash or be misjudged: files named with the wrong
extension, a truncated GIF, an animated PNG OpenCV must not decode, huge sides, damaged
generation metadata; and (issue #19) which PNGs the faster decoder takes. Each test failed
before its fix."""
from __future__ import annotations

import io
import json
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from checker import imageio
from checker.config import resolve
from checker.job import build_job
from checker.metadata import extract_metadata
from checker.rule import Rule
from checker.imageio import ImageLoadError, load_image
from checker.inputs import IMAGE_SUFFIXES
from checker.inputs import find_images
from fixtures.fuzz_inputs import png_chunks, png_join
from fixtures.make_fixtures import save_png, scene
from tests.helpers import run_cli, run_json


def encoded(pixels: np.ndarray, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=fmt, **options)
    return out.getvalue()


def test_content_decides_the_format_not_the_extension(tmp_path):
    pixels = scene(160, 120, seed=3)
    (tmp_path / "really_a_jpeg.png").write_bytes(encoded(pixels, "JPEG", quality=92))
    (tmp_path / "really_a_png.jpg").write_bytes(encoded(pixels, "PNG"))
    (tmp_path / "download.jfif").write_bytes(encoded(pixels, "JPEG", quality=92))
    (tmp_path / "download.jpe").write_bytes(encoded(pixels, "JPEG", quality=92))
    proc, report = run_json(tmp_path, "--jobs", "0", "--no-cache")
    images = {Path(i["path"]).name: i for i in report["images"]}
    assert set(images) == {"really_a_jpeg.png", "really_a_png.jpg", "download.jfif", "download.jpe"}
    for name, image in images.items():
        assert image["verdict"] != "error", (name, image["findings"])
        assert (image["width"], image["height"]) == (160, 120), name
        assert not [f for f in image["findings"] if f["code"] == "IMG001"], name


def test_jfif_and_jpe_downloads_are_found_in_folders(tmp_path):
    for name in ("a.jfif", "b.JPE", "c.jpeg"):
        (tmp_path / name).write_bytes(encoded(scene(32, 32, seed=1), "JPEG"))
    found, _problems = find_images([tmp_path])
    assert sorted(Path(p).name for p in found) == ["a.jfif", "b.JPE", "c.jpeg"]
    assert ".jfif" in IMAGE_SUFFIXES and ".jpe" in IMAGE_SUFFIXES


def animated_gif() -> bytes:
    frames = [Image.fromarray(scene(48, 32, seed=s)) for s in range(4)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    return out.getvalue()


def test_a_truncated_gif_is_a_clear_load_error_at_every_cut():
    data = animated_gif()
    unreadable = 0
    for cut in range(13, len(data), 11):
        try:
            load_image(Path("cut.gif"), data=data[:cut])
        except ImageLoadError as exc:  # the only exception a bad file may raise
            assert str(exc)
            unreadable += 1
    assert unreadable > 0


def one_frame_apng() -> bytes:
    """A valid animated PNG announcing one frame: PIL counts 1 frame and mode RGB, the case
    that took the OpenCV path, whose APNG reader crashes the process on damaged files."""
    frames = [Image.fromarray(scene(64, 48, seed=s)) for s in range(2)]
    out = io.BytesIO()
    frames[0].save(out, format="PNG", save_all=True, append_images=frames[1:])
    chunks = []
    for kind, payload in png_chunks(out.getvalue()):
        if kind == b"acTL":
            payload = (1).to_bytes(4, "big") + payload[4:]
        chunks.append((kind, payload))
    return png_join(chunks)


def test_an_animated_png_is_decoded_by_pil_never_by_opencv(monkeypatch):
    data = one_frame_apng()
    assert imageio.is_apng(data)
    assert Image.open(io.BytesIO(data)).n_frames == 1

    def refuse(_data):
        raise AssertionError("an APNG reached cv2.imdecode")

    monkeypatch.setattr(imageio, "_decode_cv2", refuse)
    image = load_image(Path("anim.png"), data=data)
    assert (image.width, image.height) == (64, 48)


def test_a_plain_png_still_takes_the_fast_path():
    assert not imageio.is_apng(encoded(scene(16, 16, seed=2), "PNG"))
    assert imageio.is_apng(b"\x89PNG\r\n\x1a\n\x00\x00")  # a malformed chunk list: the careful path


# --- issue #19: plain 8-bit RGB and RGBA PNGs are decoded by libspng, to the same pixels ---

def with_chunk(data: bytes, kind: bytes, payload: bytes) -> bytes:
    """``data`` (a PNG) with a chunk added right after its header."""
    chunks = png_chunks(data)
    return png_join(chunks[:1] + [(kind, payload)] + chunks[1:])


PLAIN_RGB_PNGS = {
    "plain": lambda px: encoded(px, "PNG"),
    "uncompressed": lambda px: encoded(px, "PNG", compress_level=0),
    "tRNS colour": lambda px: encoded(px, "PNG", transparency=(10, 20, 30)),
    "gAMA": lambda px: with_chunk(encoded(px, "PNG"), b"gAMA", (45455).to_bytes(4, "big")),
    "sBIT": lambda px: with_chunk(encoded(px, "PNG"), b"sBIT", bytes([5, 6, 5])),
}


@pytest.mark.parametrize("variant", sorted(PLAIN_RGB_PNGS))
def test_plain_rgb_png_is_decoded_by_libspng_to_opencvs_pixels(monkeypatch, variant):
    import cv2

    pixels = scene(97, 61, seed=5)
    data = PLAIN_RGB_PNGS[variant](pixels)
    opencv = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def refuse(_data):
        raise AssertionError("a plain RGB PNG reached cv2.imdecode")

    monkeypatch.setattr(imageio, "_decode_cv2", refuse)
    assert imageio.spng_layout(data) == "RGB"
    image = load_image(Path("plain.png"), data=data)
    assert image.rgb.dtype == np.uint8 and image.rgb.flags.c_contiguous
    assert np.array_equal(image.rgb, opencv)
    assert np.array_equal(image.rgb, pixels)


# a big-endian TIFF header and one IFD entry: Orientation (0x0112) = 6, turned 90 degrees clockwise
TURNED_EXIF = b"MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00"


def palette_png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).convert("P").save(out, format="PNG")
    return out.getvalue()


OTHER_PNGS = {
    "RGBA with eXIf": lambda px: with_chunk(encoded(np.dstack([px, px[:, :, 0]]), "PNG"), b"eXIf", TURNED_EXIF),
    "gray": lambda px: encoded(px[:, :, 0], "PNG"),
    "16-bit gray": lambda px: encoded(px[:, :, 0].astype(np.uint16) * 257, "PNG"),
    "palette": palette_png,
    "eXIf orientation": lambda px: with_chunk(encoded(px, "PNG"), b"eXIf", TURNED_EXIF),
    "truncated": lambda px: encoded(px, "PNG")[:-40],
    "one-frame APNG": lambda px: one_frame_apng(),
}


@pytest.mark.parametrize("variant", sorted(OTHER_PNGS))
def test_other_pngs_are_not_given_to_libspng(variant):
    data = OTHER_PNGS[variant](scene(40, 30, seed=6))
    assert imageio.spng_layout(data) is None


def rgba_with_every_alpha(seed: int) -> np.ndarray:
    """An RGBA picture whose alpha takes every value, mostly 0 and 255 as in real cut-outs."""
    pixels = scene(120, 90, seed=seed)
    alpha = np.full(pixels.shape[:2], 255, np.uint8)
    alpha[:30] = 0
    alpha[40:42, :] = np.resize(np.arange(256, dtype=np.uint8), (2, alpha.shape[1]))
    alpha[50:, 60:] = np.resize(np.arange(256, dtype=np.uint8)[::-1], (alpha.shape[0] - 50, alpha.shape[1] - 60))
    return np.dstack([pixels, alpha])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_contrast_ground_blend_is_the_plain_formula_for_every_alpha(seed):
    rgba = rgba_with_every_alpha(seed)
    rgb, alpha = rgba[:, :, :3], rgba[:, :, 3]
    composite = imageio.composite_on_contrast(rgb, alpha)
    for ground in (0.0, 255.0):  # the formula's pixels for both grounds: the one chosen must match
        weight = alpha.astype(np.float32)[:, :, None] / 255.0
        plain = np.clip(rgb.astype(np.float32) * weight + ground * (1.0 - weight) + 0.5, 0, 255).astype(np.uint8)
        if np.array_equal(composite[alpha == 0], plain[alpha == 0]):
            assert np.array_equal(composite, plain)
            break
    else:
        raise AssertionError("the transparent pixels are neither ground")
    assert set(np.unique(alpha)) == set(range(256))


def test_an_rgba_png_from_libspng_is_what_pils_path_makes_of_it(monkeypatch):
    data = encoded(rgba_with_every_alpha(4), "PNG")
    assert imageio.spng_layout(data) == "RGBA"
    decoded = []
    real = imageio._decode_spng
    monkeypatch.setattr(imageio, "_decode_spng", lambda d, layout: decoded.append(layout) or real(d, layout))
    fast = load_image(Path("cut-out.png"), data=data)
    assert decoded == ["RGBA"]
    monkeypatch.setattr(imageio, "_decode_spng", lambda d, layout: None)
    pil = load_image(Path("cut-out.png"), data=data)
    assert np.array_equal(fast.rgb, pil.rgb) and np.array_equal(fast.alpha, pil.alpha)
    assert fast.rgb.flags.c_contiguous and fast.mode == "RGBA"


def test_an_exif_orientation_in_a_png_is_still_applied():
    pixels = scene(40, 30, seed=6)
    data = OTHER_PNGS["eXIf orientation"](pixels)
    image = load_image(Path("turned.png"), data=data)
    assert image.exif_orientation == 6
    assert np.array_equal(image.rgb, np.rot90(pixels, k=-1))


def test_a_damaged_plain_png_is_a_clear_error_not_a_crash():
    chunks = png_chunks(encoded(scene(64, 48, seed=7), "PNG"))
    broken = png_join([(kind, payload[:20] + bytes(len(payload) - 20) if kind == b"IDAT" else payload)
                       for kind, payload in chunks])  # the image data zeroed after 20 bytes
    assert imageio.spng_layout(broken) == "RGB"
    with pytest.raises(ImageLoadError, match="corrupt|cannot"):
        load_image(Path("damaged.png"), data=broken)


# --- damaged generation metadata (item 11): the leak is still reported, nothing crashes ---

DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE_METADATA = {
    "comfy_inputs_list": {"prompt": json.dumps({
        "3": {"class_type": "KSampler", "inputs": [["6", 0], ["7", 0]]},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": 'a sign saying "OPEN"', "clip": ["4", 1]}}})},
    "comfy_inputs_string": {"prompt": json.dumps({"3": {"class_type": "KSampler", "inputs": "positive"}})},
    "comfy_link_to_a_list_node": {"prompt": json.dumps({
        "3": {"class_type": "KSampler", "inputs": {"positive": [["x"], 0], "negative": [{"a": 1}, 0]}},
        "6": [1, 2, 3], "7": "node", "8": None})},
    "comfy_graph_is_a_list": {"prompt": json.dumps([{"class_type": "KSampler"}]), "workflow": "[1, 2]"},
    "comfy_deep": {"prompt": DEEP, "workflow": DEEP},
    "a1111_deep_json": {"parameters": DEEP},
    "a1111_deep_object": {"parameters": '{"Prompt": ' + "{\"a\": " * 50_000 + "1" + "}" * 50_001},
    "fooocus_prompt_not_text": {"parameters": json.dumps({"Prompt": ["a", "list"], "Negative Prompt": {"x": 1}})},
    "swarm_params_list": {"parameters": json.dumps({"sui_image_params": [1, 2]})},
    "novelai_prompt_dict": {"Comment": json.dumps({"prompt": {"nested": True}, "uc": [1]}), "Software": "NovelAI"},
    "invokeai_image_list": {"invokeai_metadata": json.dumps({"image": ["not", "a", "dict"]})},
    "invokeai_positive_list_of_str": {"invokeai_metadata": json.dumps({"positive_prompt": ["a"]})},
    "comfy_wide_graph": {"prompt": json.dumps({
        str(i): {"class_type": "KSampler" if i == 0 else "Combine",
                 "inputs": {"positive": [str(i + 1), 0], "conditioning_a": [str(i + 1), 0],
                            "conditioning_b": [str(i + 1), 0], "text": f"part {i}"}}
        for i in range(40)})},
}


@pytest.mark.parametrize("name", sorted(HOSTILE_METADATA))
def test_damaged_metadata_is_parsed_without_crashing(name):
    md = extract_metadata(HOSTILE_METADATA[name])
    assert md.found, name  # the leak is still there to report
    assert md.positive_prompt is None or isinstance(md.positive_prompt, str)
    assert md.negative_prompt is None or isinstance(md.negative_prompt, str)


def test_comfyui_prompt_is_still_found_beside_a_broken_node():
    md = extract_metadata(HOSTILE_METADATA["comfy_inputs_list"])
    assert md.tool == "comfyui"
    assert md.positive_prompt == 'a sign saying "OPEN"'  # the text-encoder fallback


def png_with_text(path: Path, chunks: dict[str, str]) -> Path:
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value, zip=len(value) > 1000)
    Image.fromarray(scene(96, 64, seed=5)).save(path, pnginfo=info)
    return path


def test_meta001_and_text003_report_the_leak_of_damaged_metadata(tmp_path):
    for name in ("comfy_inputs_list", "comfy_deep", "a1111_deep_json", "invokeai_image_list"):
        png_with_text(tmp_path / f"{name}.png", HOSTILE_METADATA[name])
    _proc, report = run_json(tmp_path, "--jobs", "0", "--no-cache", "--select", "META001,TEXT003")
    assert len(report["images"]) == 4
    for image in report["images"]:
        codes = [f["code"] for f in image["findings"]]
        assert "IMG001" not in codes, (image["path"], image["findings"])
        assert "META001" in codes, image["path"]


# --- worker start-up (item 7): model loading has its own limit, and its expiry is an error ---

def check_stuck_loading(ctx, settings):
    """Test rule: a model that never finishes loading."""
    from checker.loading import loading_models

    with loading_models():
        time.sleep(600)
    return ()


STUCK = Rule(code="TEST932", name="test.stuck-loading", summary="never gets ready", check=check_stuck_loading)


def test_a_worker_that_cannot_load_its_models_is_a_clear_error_not_a_hang(tmp_path, monkeypatch):
    from checker.executors import local

    monkeypatch.setattr(local, "MODEL_LOADING_LIMIT_S", 3.0)
    images = [save_png(tmp_path / f"{i}.png", scene(40, 30, seed=i)) for i in range(3)]
    plan = resolve([STUCK], {}, cache=False)
    results = []
    started = time.monotonic()
    local.run_local([build_job(str(p), plan) for p in images], 1, 5.0, results.append)
    assert time.monotonic() - started < 60
    assert sorted(Path(r.path).name for r in results) == ["0.png", "1.png", "2.png"]
    for result in results:
        (finding,) = result.findings
        assert finding.code == "IMG001"
        assert "did not finish loading the models within 3 s" in finding.message
    # the first worker is replaced once; when its successor fails too, none is left
    assert "no worker could start" in results[-1].findings[0].message


# --- extreme sides (item 6b): MediaPipe aborted the process on a side of 32768 px or more ---

@pytest.mark.parametrize("shape", [(64, 40000), (40000, 64)])
def test_a_40000_px_side_is_judged_in_process(tmp_path, shape):
    """The issue's own case, 40000x64 and its tall twin, under --jobs 0: the process used to
    die (exit 134, SIGABRT in MediaPipe); every rule, hands included, now runs on it."""
    h, w = shape
    strip = scene(400, 64, seed=1)
    pixels = np.tile(strip, (1, w // 400, 1)) if w > h else np.ascontiguousarray(
        np.tile(strip, (1, h // 400, 1)).transpose(1, 0, 2))
    save_png(tmp_path / "strip.png", pixels)
    proc, report = run_json(tmp_path / "strip.png", "--jobs", "0", "--no-cache")
    (image,) = report["images"]
    assert (image["height"], image["width"]) == shape
    assert image["verdict"] != "error", image["findings"]
    assert "hands.finger-count" in image["timings_ms"] and "text.misspelled" in image["timings_ms"]


def test_hands_found_on_a_shrunk_copy_map_back_to_the_full_image(monkeypatch):
    from rules.hands import analysis

    rgb = np.asarray(Image.open(Path(__file__).resolve().parents[2] / "fixtures/gallery/hand_ok.png").convert("RGB"))
    (full,) = analysis.detect_in(rgb)
    monkeypatch.setattr(analysis, "MEDIAPIPE_MAX_SIDE", max(rgb.shape[:2]) // 2)
    shrunk, factor = analysis.within_mediapipe_limit(rgb)
    assert max(shrunk.shape[:2]) == max(rgb.shape[:2]) // 2 and factor == pytest.approx(0.5)
    (half,) = analysis.detect_in(rgb)
    # the same hand, in full-image pixels: within a few pixels of a hand ~370 px across
    assert np.abs(full.points - half.points).max() < 6
    assert abs(full.size - half.size) < 6


# --- library chatter on stderr (item 12) ---

def png_with_bad_icc_profile(path: Path) -> Path:
    """A PNG whose iCCP chunk holds a truncated ICC profile: libpng warns about it on fd 2
    (`libpng warning: iCCP: ...`, the same path as the common `known incorrect sRGB profile`)."""
    chunks = png_chunks(encoded(scene(96, 64, seed=8), "PNG"))
    profile = b"\x00\x00\x02\x0clcms\x02\x10\x00\x00mntrRGB XYZ " + bytes(500)
    chunks.insert(1, (b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(profile)))
    path.write_bytes(png_join(chunks))
    return path


def jpeg_with_extraneous_bytes(path: Path) -> Path:
    """Readable, but libjpeg prints `Corrupt JPEG data: N extraneous bytes before marker`."""
    data = encoded(scene(96, 64, seed=9), "JPEG", quality=90)
    path.write_bytes(data[:-2] + b"\x00\x11\x22\x33" + data[-2:])
    return path


@pytest.mark.parametrize("jobs", ["0", "2"])
def test_a_normal_run_prints_only_noticers_own_lines_on_stderr(tmp_path, jobs):
    png_with_bad_icc_profile(tmp_path / "bad_icc.png")
    jpeg_with_extraneous_bytes(tmp_path / "extra.jpg")
    hand = Path(__file__).resolve().parents[2] / "fixtures" / "gallery" / "hand_ok.png"
    (tmp_path / "hand.png").write_bytes(hand.read_bytes())
    proc = run_cli("check", tmp_path, "--jobs", jobs, "--no-cache", "--no-progress", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    verdicts = {Path(i["path"]).name: i["verdict"] for i in json.loads(proc.stdout)["images"]}
    assert set(verdicts) == {"bad_icc.png", "extra.jpg", "hand.png"}
    assert "error" not in verdicts.values(), verdicts
    foreign = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("noticer")]
    assert foreign == [], proc.stderr
