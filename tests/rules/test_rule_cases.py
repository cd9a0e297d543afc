"""Every built-in rule is tested from data: ``tests/rules/cases/<CODE>.json`` lists images
(made by a generator in ``fixtures/``, or read from the gallery or the evaluation corpus),
the profile and settings to check them with, and the codes the rule must report.

A case file::

    {"rule": "ALIGN001",
     "about": "what these cases cover",
     "cases": [
       {"id": "seam-step-10-lenient",
        "image": {"make": "fixtures.align_gen:tile_brightness_case", "args": {"seed": 30}},
        "profile": "lenient", "settings": {"min_confidence": 0.5},
        "expect": ["ALIGN001"]}]}

``image`` is one of ``{"make": "module:function", "args": {...}}`` (a function returning an
RGB uint8 array, or a tuple whose first item is one), ``{"gallery": "name.png"}`` (a file of
``fixtures/gallery``) or ``{"corpus": "folder/name.jpg"}`` (skipped, saying why, when
``../shared/corpus`` is absent). ``expect`` lists the codes the rule must report; ``[]``
means it must report nothing. ``profile`` defaults to lenient, ``settings`` to none.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest

from checker.discovery import discover_rules
from checker.testing import run_rule

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
GALLERY = ROOT / "fixtures" / "gallery"
IMAGE_KINDS = ("make", "gallery", "corpus")


def _case_files() -> list[Path]:
    return sorted((HERE / "cases").glob("*.json"))


def _load(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data.get("rule") == path.stem, f"{path.name} must declare rule {path.stem!r}"
    return data


def _all_cases() -> list:
    params = []
    for path in _case_files():
        data = _load(path)
        for case in data["cases"]:
            params.append(pytest.param(data["rule"], case, id=f"{data['rule']}:{case['id']}"))
    return params


def _image(spec: dict):
    (kind,) = [k for k in IMAGE_KINDS if k in spec]
    if kind == "make":
        module_name, _, function_name = spec["make"].partition(":")
        made = getattr(importlib.import_module(module_name), function_name)(**spec.get("args", {}))
        image = made[0] if isinstance(made, tuple) else made
        assert isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3, spec
        return image
    if kind == "gallery":
        return GALLERY / spec["gallery"]
    if not (CORPUS / "MANIFEST.tsv").is_file():
        pytest.skip(f"evaluation corpus not found at {CORPUS} (it lives beside the checkout in ../shared/corpus)")
    return CORPUS / spec["corpus"]


@pytest.fixture(scope="module")
def rules_by_code() -> dict:
    return {rule.code: rule for rule in discover_rules().rules}


@pytest.mark.parametrize("code, case", _all_cases())
def test_rule_case(rules_by_code, code, case):
    findings = run_rule(rules_by_code[code], _image(case["image"]), case.get("profile", "lenient"),
                        settings=case.get("settings"), all_rules=list(rules_by_code.values()))
    reported = sorted({f.code for f in findings})
    assert reported == sorted(set(case["expect"])), [f"{f.code}: {f.message}" for f in findings]


def test_case_files_are_well_formed(rules_by_code):
    """Each file names a known rule, every case has a unique id, one image source, a known
    profile and expects only codes of its own rule."""
    files = _case_files()
    assert files, "no rule case files in tests/rules/cases"
    for path in files:
        data = _load(path)
        assert data["rule"] in rules_by_code, f"{path.name}: unknown rule {data['rule']}"
        ids = [c["id"] for c in data["cases"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate case ids"
        for case in data["cases"]:
            assert sum(k in case["image"] for k in IMAGE_KINDS) == 1, (path.name, case["id"])
            assert case.get("profile", "lenient") in ("lenient", "strict"), (path.name, case["id"])
            assert set(case["expect"]) <= {data["rule"]}, (path.name, case["id"])
