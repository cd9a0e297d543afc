from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory) -> Path:
    """The rewritten OCR graphs (rules/text/model.py) go to a folder of this test session,
    not the user's cache; the CLI's worker processes inherit the variable."""
    import os

    folder = tmp_path_factory.mktemp("model-cache")
    os.environ["NOTICER_MODEL_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        pytest.skip(f"evaluation corpus not found at {CORPUS} (it lives beside the checkout in ../shared/corpus)")
    return CORPUS
