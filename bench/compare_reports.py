"""Compare two noticer JSON reports, ignoring what may differ between equal runs.

    python -m bench.compare_reports before.json after.json

For an optimisation: ``python -m bench.speed --keep DIR --report before.json`` on the code
before it, the same with ``--report after.json`` after it (the same ``--keep DIR`` and seed
give the same folder), then compare the two.

Timings (``timings_ms``) change from run to run and are left out; everything else (schema
version, tool, profile and its settings, summary, every image's path, sha256, size, verdict,
findings with their measurements, observations) must be equal. Images are matched by path,
so a report with an image missing or added says which. Exit code 0 when the reports agree,
1 with every difference printed (at most ``--limit``), 2 when a file cannot be read.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Iterator

IGNORED_IMAGE_KEYS = ("timings_ms",)


def without_timings(image: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in image.items() if k not in IGNORED_IMAGE_KEYS}


def differences(before: Any, after: Any, where: str = "") -> Iterator[str]:
    """Every place where two JSON values differ, as ``where: before != after`` lines."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            here = f"{where}.{key}" if where else str(key)
            if key not in after:
                yield f"{here}: only in the first report ({_short(before[key])})"
            elif key not in before:
                yield f"{here}: only in the second report ({_short(after[key])})"
            else:
                yield from differences(before[key], after[key], here)
    elif isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            yield f"{where}: {len(before)} items != {len(after)} items"
        for i, (b, a) in enumerate(zip(before, after)):
            yield from differences(b, a, f"{where}[{i}]")
    elif before != after or type(before) is not type(after):
        yield f"{where}: {_short(before)} != {_short(after)}"


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "..."


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """All differences between two reports apart from timings; images are compared by path."""
    found: list[str] = []
    top_keys = (set(before) | set(after)) - {"images"}
    for key in sorted(top_keys):
        found.extend(differences({key: before.get(key)}, {key: after.get(key)}))
    images_before = {i["path"]: without_timings(i) for i in before.get("images", [])}
    images_after = {i["path"]: without_timings(i) for i in after.get("images", [])}
    for path in sorted(set(images_before) - set(images_after)):
        found.append(f"images[{path}]: only in the first report")
    for path in sorted(set(images_after) - set(images_before)):
        found.append(f"images[{path}]: only in the second report")
    for path in sorted(set(images_before) & set(images_after)):
        found.extend(differences(images_before[path], images_after[path], f"images[{path}]"))
    order_before = [i["path"] for i in before.get("images", [])]
    order_after = [i["path"] for i in after.get("images", [])]
    if sorted(order_before) == sorted(order_after) and order_before != order_after:
        found.append("images: the same images in a different order")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--limit", type=int, default=50, help="print at most this many differences")
    args = parser.parse_args(argv)
    reports = []
    for name in (args.first, args.second):
        try:
            with open(name, encoding="utf-8") as fh:
                reports.append(json.load(fh))
        except (OSError, ValueError) as exc:
            print(f"compare_reports: cannot read {name}: {exc}", file=sys.stderr)
            return 2
    found = compare(*reports)
    n_images = len(reports[0].get("images", []))
    if not found:
        print(f"identical apart from timings: {n_images} images ({args.first} vs {args.second})")
        return 0
    print(f"{len(found)} differences ({args.first} vs {args.second}):")
    for line in found[:args.limit]:
        print(f"  {line}")
    if len(found) > args.limit:
        print(f"  ... and {len(found) - args.limit} more")
    return 1


if __name__ == "__main__":
    sys.exit(main())
