"""Installation checks run by `make setup` (and `python -m checker.doctor`)."""
from __future__ import annotations

import shutil
import sys
from importlib import metadata


def opencv_distributions() -> list[str]:
    """Installed distributions that put files in the top-level cv2 package."""
    found = []
    for dist in metadata.distributions():
        files = dist.files or []
        if any(str(f).startswith("cv2/") for f in files):
            found.append(dist.metadata["Name"])
    return sorted(set(found))


def problems() -> list[str]:
    out = []
    cv = opencv_distributions()
    if len(cv) != 1:
        out.append(f"exactly one OpenCV distribution must be installed, found {cv or 'none'}: "
                   "remove all but opencv-contrib-python (pip uninstall -y opencv-python opencv-python-headless)")
    try:
        mp_version = metadata.version("mediapipe")
        if mp_version != "0.10.21":
            out.append(f"mediapipe {mp_version} installed; 0.10.21 is required (later wheels lack the hand models)")
    except metadata.PackageNotFoundError:
        out.append("mediapipe is not installed")
    out += ocr_model_problems()
    if shutil.which("tesseract") is None:
        out.append("tesseract is not on PATH: apt-get install tesseract-ocr tesseract-ocr-eng")
    return out


def ocr_model_problems() -> list[str]:
    """The default text engine's models (rules/text/models): each there, the file shipped
    (its SHA-256), and loadable by ONNX Runtime; the recogniser's character list matches its
    output."""
    from rules.text import ppocr

    out = []
    for name in ppocr.MODEL_FILES:
        try:
            session = ppocr.new_session(ppocr.verify_model(name))
            if name == "rec":
                ppocr.Recogniser(session)
        except ppocr.ModelFileError as exc:
            out.append(str(exc))
        except Exception as exc:  # ONNX Runtime's own errors: a model it cannot load
            out.append(f"noticer's OCR model {ppocr.model_path(name)} does not load ({exc}): reinstall noticer")
    return out


def main() -> int:
    issues = problems()
    for line in issues:
        print(f"noticer doctor: {line}", file=sys.stderr)
    if not issues:
        print("noticer doctor: installation looks right")
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
