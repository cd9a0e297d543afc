"""The drawing-style measure (rules/hands/style.py) on the corpus: `python -m bench.hands_style`.

Thresholds: the QUANTILE of each measure over PHOTOGRAPHS, each source weighing alike (the
real hand photos by repository, the AI photo-style hands); never the illustrations. Then,
per source, the share of images the gate calls drawn: photo sources leave-one-source-out
(thresholds from the other photo sources), the other categories (illustrations, clean,
metadata and text images, which mix photos and drawings) with the thresholds of all photos.
The thresholds line gives the constants rules/hands/style.py ships.
"""
from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from bench.hands import DEFAULT_CORPUS, SOURCE_NAMES

QUANTILE = 0.8
PHOTO_CATEGORIES = ("hands_real", "hands_ai_ok", "hands_ai_defect")
OTHER_CATEGORIES = ("hands_illust_ok", "hands_illust_defect", "clean", "metadata", "text_ai")
MEASURES = ("edge_steepness", "flat_colour_share")


def weighted_quantile(values_by_source: dict[str, list[float]], q: float) -> float:
    """The q-quantile of all values, each source's values weighing 1 in total."""
    vals, weights = [], []
    for vs in values_by_source.values():
        vals += vs
        weights += [1.0 / len(vs)] * len(vs)
    order = np.argsort(vals)
    cum = np.cumsum(np.asarray(weights)[order])
    cum /= cum[-1]
    return float(np.asarray(vals)[order][min(int(np.searchsorted(cum, q)), len(vals) - 1)])


def thresholds(photos: dict[str, list[dict]], q: float = QUANTILE) -> dict[str, float]:
    return {m: weighted_quantile({s: [r[m] for r in rows] for s, rows in photos.items()}, q) for m in MEASURES}


def called_drawn(row: dict, t: dict[str, float]) -> bool:
    return all(row[m] >= t[m] for m in MEASURES)


def measure_corpus(corpus: Path) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    from PIL import Image

    from rules.hands.style import drawing_measures

    photos, others = defaultdict(list), defaultdict(list)
    with open(corpus / "MANIFEST.tsv", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            cat = row["category"]
            if cat not in PHOTO_CATEGORIES + OTHER_CATEGORIES:
                continue
            with Image.open(corpus / row["file"]) as im:
                rgb = np.asarray(im.convert("RGB"))
            m = drawing_measures(rgb)
            if cat == "hands_real":
                photos[SOURCE_NAMES.get(row["source_repo"], row["source_repo"])].append(m)
            elif cat in PHOTO_CATEGORIES:
                photos[cat.removeprefix("hands_")].append(m)
            else:
                others[cat.removeprefix("hands_")].append(m)
    return photos, others


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--quantile", type=float, default=QUANTILE)
    args = parser.parse_args(argv)
    photos, others = measure_corpus(args.corpus)
    t_all = thresholds(photos, args.quantile)
    print(f"thresholds ({args.quantile:.2f} quantile over {sum(map(len, photos.values()))} photos of "
          f"{len(photos)} sources): " + ", ".join(f"{m} {v:.4f}" for m, v in t_all.items()))
    print(f"{'source':16s} {'called drawn':>13s}   median " + " / ".join(MEASURES))
    for source, rows in photos.items():
        t = thresholds({s: r for s, r in photos.items() if s != source}, args.quantile)
        n = sum(called_drawn(r, t) for r in rows)
        med = " / ".join(f"{np.median([r[m] for r in rows]):.3f}" for m in MEASURES)
        print(f"{source:16s} {n:>5d}/{len(rows):<5d} LOSO   {med}")
    for source, rows in others.items():
        n = sum(called_drawn(r, t_all) for r in rows)
        med = " / ".join(f"{np.median([r[m] for r in rows]):.3f}" for m in MEASURES)
        print(f"{source:16s} {n:>5d}/{len(rows):<5d}        {med}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
