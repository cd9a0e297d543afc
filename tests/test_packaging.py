"""Packaging (issue #17 item 13): `pip install noticer`, and the environment the pre-commit
framework builds from .pre-commit-hooks.yaml, have the default text engine (PP-OCR models
shipped as package data, loaded by rules/text/ppocr.py) and exactly one OpenCV distribution.

The always-on tests read the metadata, the model files and the loader's geometry; the slow
ones (NOTICER_PACKAGING_TESTS=1: each builds a fresh environment from the package index,
a few minutes and ~1 GB) install the package as a user would and run it."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from rules.text import ppocr

REPO = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


# --------------------------------------------------------------------------- metadata

def test_no_dependency_brings_a_second_opencv_or_rapidocr():
    project = _pyproject()["project"]
    names = _requirement_names(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        names |= _requirement_names(extra)
    assert "mediapipe" in names  # brings opencv-contrib-python, the one OpenCV
    assert not names & {"opencv-python", "opencv-python-headless", "opencv-contrib-python-headless",
                        "rapidocr-onnxruntime", "rapidocr"}
    # RapidOCR's own dependencies, which noticer's loader does not need
    assert not names & {"pyclipper", "shapely", "pyyaml", "six", "tqdm"}
    assert "onnxruntime" in names


def test_the_models_are_package_data():
    data = _pyproject()["tool"]["setuptools"]["package-data"]["rules.text"]
    shipped = {p.name for p in ppocr.MODEL_DIR.iterdir()}
    assert set(ppocr.MODEL_FILES.values()) | {"LICENSE", "NOTICE"} <= shipped
    for name in shipped:
        assert any(Path("models", name).match(pattern) for pattern in data), f"{name} is not package data"


def test_the_makefile_installs_no_rapidocr():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "rapidocr" not in makefile.lower() and "--no-deps" not in makefile


def test_no_code_imports_rapidocr():
    for folder in ("checker", "rules"):
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"^\s*(from|import)\s+rapidocr", text, re.M), path


def test_the_result_cache_is_keyed_by_the_models_not_by_rapidocr():
    from checker.cache import RESULT_LIBRARIES, family_sources

    assert "rapidocr-onnxruntime" not in RESULT_LIBRARIES and "onnxruntime" in RESULT_LIBRARIES
    import rules.text  # noqa: F401  (family_sources reads the imported package)

    sources = family_sources("rules.text")
    assert str(Path(ppocr.__file__)) in sources  # it holds MODEL_SHA256: new models, new key
    text = Path(ppocr.__file__).read_text(encoding="utf-8")
    assert all(digest in text for digest in ppocr.MODEL_SHA256.values())


# --------------------------------------------------------------------------- model files

@pytest.mark.parametrize("name", sorted(ppocr.MODEL_FILES))
def test_each_shipped_model_has_its_recorded_hash(name):
    digest = hashlib.sha256(ppocr.model_path(name).read_bytes()).hexdigest()
    assert digest == ppocr.MODEL_SHA256[name]
    notice = (ppocr.MODEL_DIR / "NOTICE").read_text(encoding="utf-8")
    assert f"{digest}  {ppocr.MODEL_FILES[name]}" in notice


def test_a_damaged_or_missing_model_is_refused_with_a_clear_message(monkeypatch, tmp_path):
    from checker import doctor

    for name, file in ppocr.MODEL_FILES.items():
        shutil.copyfile(ppocr.model_path(name), tmp_path / file)
    monkeypatch.setattr(ppocr, "MODEL_DIR", tmp_path)
    assert ppocr.verify_model("det") == tmp_path / ppocr.MODEL_FILES["det"]
    assert doctor.ocr_model_problems() == []
    with open(tmp_path / ppocr.MODEL_FILES["rec"], "r+b") as handle:  # one byte changed
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 1]))
    with pytest.raises(ppocr.ModelFileError, match="damaged or not the one shipped.*reinstall"):
        ppocr.verify_model("rec")
    (tmp_path / ppocr.MODEL_FILES["cls"]).unlink()
    problems = doctor.ocr_model_problems()
    assert len(problems) == 2 and "cannot be read" in problems[1] and "damaged" in problems[0]


def test_the_recogniser_lists_a_character_per_class():
    session = ppocr.new_session(ppocr.verify_model("rec"))
    recogniser = ppocr.Recogniser(session)
    assert len(recogniser.characters) == session.get_outputs()[0].shape[-1] == 6625
    assert recogniser.characters[-1] == " " and "a" in recogniser.characters and "中" in recogniser.characters


# --------------------------------------------------------------------------- the loader's steps

def test_the_core_is_grown_as_clipper_grows_it():
    """Reference outlines computed by pyclipper 1.3 (RapidOCR's offset) for these inputs:
    the coordinates truncated first, edges moved out, round corners of chords, and the
    outline starting after its topmost-rightmost point."""
    square = np.array([[1, 1], [11, 1], [11, 6], [1, 6]], np.float32)
    assert ppocr.offset_polygon(square, 2.0).tolist() == [
        [13, 0], [13, 6], [12, 8], [1, 8], [-1, 7], [-1, 1], [0, -1], [11, -1]]
    fractional = np.array([[1.7, 1.7], [10.9, 1.2], [10.6, 5.99], [1.2, 5.5]], np.float32)
    assert ppocr.offset_polygon(fractional, 2.0).tolist() == [
        [12, 0], [12, 5], [11, 7], [1, 7], [-1, 6], [-1, 1], [0, -1], [10, -1]]


def test_detected_lines_are_in_reading_order():
    def quad(x, y):
        return np.array([[x, y], [x + 50, y], [x + 50, y + 20], [x, y + 20]], np.float32)

    # the second line's right word sits 4 px higher than its left word: still after it
    quads = [quad(200, 96), quad(10, 100), quad(10, 10), quad(300, 12)]
    ordered = [tuple(q[0]) for q in ppocr.reading_order(quads)]
    assert ordered == [(10, 10), (300, 12), (10, 100), (200, 96)]


def test_ctc_decoding_drops_repeats_and_blanks():
    session = ppocr.new_session(ppocr.verify_model("rec"))
    recogniser = ppocr.Recogniser(session)
    index = {c: i for i, c in enumerate(recogniser.characters)}
    steps = [0, index["O"], index["O"], 0, index["O"], index["K"], index[" "], 0]
    probs = np.full((len(steps), len(recogniser.characters)), 0.0, np.float32)
    for t, k in enumerate(steps):
        probs[t, k] = 0.5 + 0.05 * t
    decoded = recogniser.decode(probs, share=0.5)
    assert decoded.text == "OOK "
    assert decoded.columns == [1, 4, 5, 6] and decoded.steps == 4.0
    assert decoded.confidence == pytest.approx(np.mean([0.55, 0.7, 0.75, 0.8]))


def test_character_boxes_follow_their_time_steps():
    decoded = ppocr._Decoded("AB", 0.9, [2, 6], [0.9, 0.9], steps=10.0)
    boxes = ppocr.char_boxes_on_crop(decoded, width=100, height=30)
    # 10 px per step; characters 40 px apart; centred at 25 and 65 px; meeting at 45
    assert [b[0][0] for b in boxes] == [5, 45] and [b[1][0] for b in boxes] == [45, 85]
    quad = np.array([[50, 20], [150, 20], [150, 50], [50, 50]], np.float32)
    mapped = ppocr.boxes_to_image(quad, boxes, 100, 30, turned=False)
    assert [sorted({p[0] for p in b}) for b in mapped] == [[55, 95], [95, 135]]
    assert quad[0].tolist() == [50, 20]  # the caller's quad is left as it was


def test_the_engine_reads_a_rendered_word():
    import cv2

    from rules.text.ocr import OcrParams, ocr_image

    image = np.full((200, 520, 3), 235, np.uint8)
    cv2.putText(image, "MARKET", (40, 130), cv2.FONT_HERSHEY_SIMPLEX, 2.6, (20, 20, 20), 7, cv2.LINE_AA)
    result = ocr_image(image, image[:, :, 1], OcrParams())
    assert result.text == "MARKET"
    (line,) = result.lines
    ink_columns = np.nonzero((image[:, :, 1] < 128).any(axis=0))[0]
    assert abs(line.box.x0 - ink_columns[0]) <= 12 and abs(line.box.x1 - ink_columns[-1]) <= 12
    assert len(line.words[0].chars) == 6


def test_the_angle_classifier_turns_an_upside_down_line():
    import cv2

    engine = ppocr.PPOCR()
    crop = np.full((48, 240, 3), 240, np.uint8)
    cv2.putText(crop, "Harbour", (8, 36), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (10, 10, 10), 3, cv2.LINE_AA)
    upside_down = cv2.rotate(crop, cv2.ROTATE_180)
    turned, labels = engine.classify([crop, upside_down])
    assert [label for label, _ in labels] == ["0", "180"]
    assert np.array_equal(turned[1], crop) and turned[0] is crop


# --------------------------------------------------------------------------- installed as a user would

SLOW = pytest.mark.skipif(os.environ.get("NOTICER_PACKAGING_TESTS") != "1",
                          reason="builds fresh environments from the package index (minutes, ~1 GB): "
                                 "set NOTICER_PACKAGING_TESTS=1")


def _source_copy(tmp_path: Path) -> Path:
    """The repository's tracked and new (not ignored) files, copied: building in place would
    write build/ and *.egg-info into the checkout."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True).stdout.decode().split("\0")
    target = tmp_path / "src"
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@SLOW
@pytest.mark.slow
def test_pip_install_gives_every_rule_and_one_opencv(tmp_path):
    source = _source_copy(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(source)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    probe = subprocess.run([str(python), "-c", (
        "import json, importlib.util; from checker.doctor import opencv_distributions, ocr_model_problems; "
        "print(json.dumps([opencv_distributions(), ocr_model_problems(), "
        "importlib.util.find_spec('rapidocr_onnxruntime') is not None]))")],
        cwd=tmp_path, capture_output=True, text=True, check=True)
    opencv, model_problems, has_rapidocr = json.loads(probe.stdout)
    assert opencv == ["opencv-contrib-python"] and model_problems == [] and not has_rapidocr
    rules = subprocess.run([str(venv / "bin" / "noticer"), "rules"], capture_output=True, text=True, check=True)
    names = {line.split()[1] for line in rules.stdout.splitlines()[1:] if line.strip()}
    run = subprocess.run([str(venv / "bin" / "noticer"), "check", str(REPO / "fixtures" / "gallery"), "--format", "json",
                          "--no-progress", "--no-cache"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 1, run.stderr[-3000:]
    images = json.loads(run.stdout)["images"]
    for image in images:
        if image["verdict"] != "error":  # the gallery's truncated download cannot be judged
            # IMG001 is the load itself (timed as "load"); every other rule ran on the image
            assert set(image["timings_ms"]) - {"load"} == names - {"image.unreadable"}, image["path"]
    codes = {f["code"] for image in images for f in image["findings"]}
    assert {"TEXT001", "IMG001", "META001", "ALIGN001"} <= codes


@SLOW
@pytest.mark.slow
def test_pre_commit_hook_blocks_a_broken_image_with_the_default_engine(tmp_path):
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which("pre-commit")
    if pre_commit is None:
        pytest.skip("pre-commit is not installed (pip install '.[test]')")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), GIT_AUTHOR_NAME="t",
               GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    subprocess.run(["git", "init", "-q"], cwd=scratch, check=True, env=env)
    (scratch / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    shutil.copyfile(REPO / "fixtures" / "gallery" / "text_sign_ok.png", scratch / "sign.png")
    subprocess.run(["git", "add", "broken.png", "sign.png"], cwd=scratch, check=True, env=env)
    run = subprocess.run([pre_commit, "try-repo", str(REPO), "noticer"], cwd=scratch, capture_output=True,
                         text=True, env=env)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]  # the commit would be blocked
    assert "broken.png" in output and "IMG001" in output
    assert "sign.png:" not in output  # the sign was read by the default engine and passed
    assert "text.engine" not in output  # no "engine missing" stop (that is exit 2)
