"""META001 benchmark: generation-metadata detection on the real corpus and on generated files.

    python -m bench.metadata [--corpus ../shared/corpus]

Positives on the corpus are the files of its `metadata/` folder (real ComfyUI and A1111 PNGs)
plus any other corpus file whose manifest entry says it keeps its generation chunks;
negatives are the rest. Generated cases cover every supported writer and files with harmless
text chunks. Also scores the prompt's quoted text against the manifest's `quoted_text=`.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from checker.testing import context_from_path, run_rule
from rules.metadata import META001

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
# Files the manifest does not describe as keeping metadata, but which do: checked by hand
# (the chunk read with PIL and looked at), recorded here so the score says what is true.
CHECKED_BY_HAND = {
    "clean/usdu_e1_original_512.png": "A1111 'parameters' chunk with a prompt and a negative prompt",
}
KEEPS_CHUNKS = re.compile(r"keeps? (a1111 )?(prompt|parameters|workflow)|keys=|PNG keeps", re.IGNORECASE)


@dataclass(frozen=True)
class Case:
    path: Path
    positive: bool
    expected_quotes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def false_alarm_rate(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0


def corpus_cases(corpus: Path) -> list[Case]:
    cases = []
    with open(corpus / "MANIFEST.tsv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            label = row.get("label", "")
            notes = label + " " + row.get("how_labelled", "")
            positive = (row["category"] == "metadata" or bool(KEEPS_CHUNKS.search(notes))
                        or row["file"] in CHECKED_BY_HAND)
            quotes = None
            m = re.search(r'quoted_text=(none|"(.+?)")(;|$)', label.replace('""', '"'))
            if m:
                quotes = () if m.group(1) == "none" else (m.group(2),)
            cases.append(Case(corpus / row["file"], positive, quotes))
    return [c for c in cases if c.path.is_file()]


def generated_cases(folder: Path) -> list[Case]:
    base = np.full((96, 128, 3), 120, np.uint8)

    def png(name: str, text: dict[str, str], positive: bool, quotes=None) -> Case:
        info = PngInfo()
        for k, v in text.items():
            info.add_text(k, v)
        Image.fromarray(base).save(folder / name, pnginfo=info)
        return Case(folder / name, positive, quotes)

    a1111 = ('poster that says "SUMMER SALE", vivid\nNegative prompt: blurry\n'
             "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512")
    comfy = json.dumps({"1": {"class_type": "KSampler", "inputs": {"positive": ["2", 0], "negative": ["3", 0]}},
                        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": 'mug with "BEST DAD" print'}},
                        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "lowres"}}})
    nai = json.dumps({"prompt": 'banner reading "WELCOME"', "uc": "lowres", "seed": 7, "steps": 28})
    cases = [
        png("a1111.png", {"parameters": a1111}, True, ("SUMMER SALE",)),
        png("comfy.png", {"prompt": comfy, "workflow": "{}"}, True, ("BEST DAD",)),
        png("comfy_workflow_only.png", {"workflow": '{"nodes": []}'}, True, None),
        png("novelai.png", {"Comment": nai, "Description": 'banner reading "WELCOME"', "Software": "NovelAI"},
            True, ("WELCOME",)),
        png("invoke.png", {"invokeai_metadata": json.dumps({"positive_prompt": "a cat", "seed": 1})}, True, ()),
        png("title_only.png", {"Title": "Sunset", "Author": "me"}, False),
        png("plain_description.png", {"Description": "Holiday photo", "Software": "GIMP 2.10"}, False),
        png("plain_comment.png", {"Comment": "exported from Krita"}, False),
        png("no_chunks.png", {}, False),
    ]
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00" + a1111.encode()
    Image.fromarray(base).save(folder / "a1111_exif.jpg", exif=exif.tobytes())
    cases.append(Case(folder / "a1111_exif.jpg", True, ("SUMMER SALE",)))
    plain = Image.Exif()
    plain.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00" + b"Taken on a sunny day"
    Image.fromarray(base).save(folder / "camera_comment.jpg", exif=plain.tobytes())
    cases.append(Case(folder / "camera_comment.jpg", False))
    return cases


def evaluate(cases: list[Case], profile: str = "lenient") -> tuple[Score, list[str], list[float], tuple[int, int]]:
    tp = fp = fn = tn = 0
    mistakes: list[str] = []
    times: list[float] = []
    quotes_right = quotes_total = 0
    for case in cases:
        t0 = time.perf_counter()
        findings = run_rule(META001, context_from_path(case.path), profile=profile)
        times.append((time.perf_counter() - t0) * 1000)
        flagged = bool(findings)
        if flagged and case.positive:
            tp += 1
        elif flagged:
            fp += 1
            mistakes.append(f"false alarm: {case.path.name} {findings[0].measurements['keys']}")
        elif case.positive:
            fn += 1
            mistakes.append(f"missed: {case.path.name}")
        else:
            tn += 1
        if case.expected_quotes is not None and case.positive:
            quotes_total += 1
            got = tuple(findings[0].measurements["quoted_text"]) if findings else ()
            quotes_right += got == case.expected_quotes
            if got != case.expected_quotes:
                mistakes.append(f"quoted text: {case.path.name} expected {case.expected_quotes} got {got}")
    return Score(tp, fp, fn, tn), mistakes, times, (quotes_right, quotes_total)


def report(name: str, cases: list[Case]) -> dict:
    score, mistakes, times, (qr, qt) = evaluate(cases)
    print(f"{name}: {len(cases)} files ({score.tp + score.fn} with metadata)")
    print(f"  precision {score.precision:.3f}  recall {score.recall:.3f}  "
          f"false alarms {score.fp}/{score.fp + score.tn} ({score.false_alarm_rate:.3f})")
    print(f"  quoted text exact {qr}/{qt}   median {statistics.median(times):.2f} ms per file")
    for m in mistakes:
        print(f"  - {m}")
    return {"precision": score.precision, "recall": score.recall, "false_alarm_rate": score.false_alarm_rate,
            "quoted_exact": qr, "quoted_total": qt}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="META001 benchmark")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    print("META001 metadata.generation-info (same result in both profiles; severity differs)")
    if (args.corpus / "MANIFEST.tsv").is_file():
        report("corpus", corpus_cases(args.corpus))
    else:
        print(f"corpus: not found at {args.corpus}, skipped")
    with tempfile.TemporaryDirectory() as tmp:
        report("generated", generated_cases(Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
