"""Benchmark of the text rules (TEXT001-TEXT004): ``python -m bench.text``.

Per engine and profile it prints
- on generated signs (fixtures/text_gen.py): typo recall and false alarms per image by
  background style, false alarms per text-free image, median ms with and without text;
- on the same kind of signs at 1024x1024 (the size of most generated images, where the
  OCR stage detects in bands around what its gates saw): typo recall, false alarms and
  median ms, so the cheaper path for large images is measured too;
- on small labels (font 16-40 px, one or two words, on a plate or not) placed anywhere on
  1024x1024 pictures: how often the gate lets the picture through and every word is read,
  by font size, which shows how far down the gate and the banded detection reach;
- on the corpus (../shared/corpus, evaluation only): recall on defective samples
  (GARBLED/ERROR labels) with the rules alone and with the intended text given to TEXT003,
  false alarms on correct samples and on text-free `clean/` images, the normalized edit
  similarity of what was read to the intended text, and median ms for images with text
  and without (by their labels: the metadata postcards that show text count as with text);
- per source of the corpus's text_ai samples (source_repo in MANIFEST.tsv), and leave one
  source out: for each source, the lowest finding confidence to report at that keeps false
  alarms within issue #18's budget (6% lenient, 12% strict) on the other sources, applied to
  the held-out source, so that no figure comes from the images that set its threshold; and
  with the threshold set on generated correct signs alone (``--threshold-n`` per style), for
  which every corpus source is unseen (with 19 of the 40 correct samples in one source, the
  other sources' false alarm share moves by one sample in 21 when it is held out);
- on generated words with one malformed letter (partly erased, crossed by a stray stroke,
  merged with the next; seeds below those the glyph calibration was made on): images
  flagged per kind, and by the malformed-letter check alone, and correct words flagged;
- on generated signs with a name of letters and digits (``make_code_case``) and their
  intended text: TEXT003's findings on a digit changed (GPT7 for GPT4) and on correct signs;
- on generated signs in other scripts (CJK, Hangul, Cyrillic, Greek, Arabic, Hebrew,
  Devanagari; seeds from 200, apart from those the script thresholds were looked at on):
  correct lettering flagged per profile (should be none), and CJK pseudo-characters found.

Nothing read from the corpus is written anywhere.
"""
from __future__ import annotations

import argparse
import csv
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from checker.config import resolve
from checker.testing import context_from_array, context_from_path
from rules.text import RULES, expected_text_match, ocr_params
from rules.text.ocr import ENGINES, OcrParams, read_text, second_reading
from rules.text.words import normalized_edit_similarity

from fixtures.text_gen import (
    LABEL_SIZES,
    MALFORMED_KINDS,
    SCRIPTS,
    STYLES,
    make_case,
    make_code_case,
    make_label_case,
    make_malformed_case,
    make_packing_case,
    make_script_case,
    make_text_free,
)

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
PROFILES = ("lenient", "strict")
CODES = tuple(r.code for r in RULES)


def settings_for(profile: str, engine: str, extra: dict[str, dict[str, object]] | None = None) -> dict[str, object]:
    sets = [(r.name, "engine", engine) for r in RULES]
    sets += [(rule, key, value) for rule, values in (extra or {}).items() for key, value in values.items()]
    plan = resolve(RULES, {}, profile=profile, sets=sets)
    return {rp.rule.code: rp.settings for rp in plan.rules}


def run_all(ctx, settings: dict[str, object], codes=CODES) -> list[tuple[str, object]]:
    found = []
    for rule in RULES:
        if rule.code in codes and rule.code in settings:
            found += [(rule.code, issue) for issue in rule.check(ctx, settings[rule.code]) or ()]
    return found


def timed_check(ctx, settings_by_profile: dict[str, dict[str, object]], codes=CODES):
    """Findings per profile, and (wall ms, CPU ms) the first profile took, OCR and gate
    included (the other profiles reuse the OCR result through ctx.shared). The OCR runs
    single-threaded, so CPU ms is the time on one core even when other jobs share the machine."""
    findings = {}
    elapsed = None
    for profile, settings in settings_by_profile.items():
        start, start_cpu = time.perf_counter(), time.process_time()
        findings[profile] = run_all(ctx, settings, codes)
        if elapsed is None:
            elapsed = ((time.perf_counter() - start) * 1000, (time.process_time() - start_cpu) * 1000)
    return findings, elapsed


def second_reading_ms(path: Path, engine: str) -> float:
    """CPU ms of strict TEXT004's second reading (Tesseract re-reading each line), on its own:
    measured on a fresh context whose OCR is done first."""
    params = ocr_params(settings_for("strict", engine)["TEXT004"])
    ctx = context_from_path(path)
    ctx.shared(read_text, params)
    start = time.process_time()
    ctx.shared(second_reading, params)
    return (time.process_time() - start) * 1000


# ---------------------------------------------------------------- malformed letters

# seeds of the generated correct signs the glyph calibration is made on (rules/text/glyphs.py);
# the benchmark measures on seeds below GLYPH_CALIBRATION_SEED0
GLYPH_CALIBRATION_SEED0 = 1000
GLYPH_CALIBRATION_WORDS = 200  # make_malformed_case(seed, None) signs
GLYPH_CALIBRATION_SIGNS = 40  # make_case(seed, style, False) signs per style


def glyph_words(image, engine: str = "rapidocr") -> list[tuple[float, float | None]]:
    """(doubt, disagreement) of each word ``glyph_evidence`` judges on ``image``, read as
    strict reads it (its detection size, and the second reading strict TEXT004 makes)."""
    from rules.text.glyphs import glyph_evidence
    from rules.text.shared import dictionary_for

    settings = settings_for("strict", engine)["TEXT002"]
    params = ocr_params(settings)
    ctx = context_from_array(image)
    lines = ctx.shared(read_text, params).lines
    second = ctx.shared(second_reading, params)
    dictionary = dictionary_for(settings)
    return [(e.doubt, e.disagreement) for line, other in zip(lines, second) for e in glyph_evidence(line, other, dictionary)]


def calibrate_glyphs(engine: str = "rapidocr") -> None:
    """Write rules/text/data/glyph_calibration.txt from generated correct signs: single
    words set letter by letter (as the malformed cases are, without the defect) and the
    benchmark's signs of every style, on seeds from GLYPH_CALIBRATION_SEED0."""
    from rules.text.glyphs import CALIBRATION_FILE, calibrate, write_calibration

    seed0 = GLYPH_CALIBRATION_SEED0
    words = []
    for seed in range(seed0, seed0 + GLYPH_CALIBRATION_WORDS):
        words += glyph_words(make_malformed_case(seed, None).image, engine)
    for style in STYLES:
        for seed in range(seed0, seed0 + GLYPH_CALIBRATION_SIGNS):
            words += glyph_words(make_case(seed, style, False).image, engine)
    source = (f"python -m bench.text --calibrate-glyphs: {len(words)} words of generated correct signs "
              f"(make_malformed_case seeds {seed0}-{seed0 + GLYPH_CALIBRATION_WORDS - 1}, make_case seeds "
              f"{seed0}-{seed0 + GLYPH_CALIBRATION_SIGNS - 1} per style), engine {engine}")
    write_calibration(calibrate(words, source))
    print(f"wrote {CALIBRATION_FILE}: {source}")


def evaluate_malformed(engine: str, n: int) -> dict:
    """Per profile and kind of malformed letter (and correct signs): images flagged by any
    TEXT rule, and by the malformed-letter check alone (TEXT002 findings of kind
    "malformed"), on seeds 0..n-1 (the calibration's seeds are apart)."""
    settings = {p: settings_for(p, engine) for p in PROFILES}
    # strict without the check, for what it adds (the OCR and second reading are shared)
    settings["strict without it"] = settings_for("strict", engine, {"text.garbled": {"malformed_letters": False}})
    kinds = ("correct",) + MALFORMED_KINDS
    out = {p: {k: Tally() for k in kinds} for p in settings}
    malformed = {p: {k: 0 for k in kinds} for p in settings}
    for seed in range(n):
        for kind in kinds:
            case = make_malformed_case(seed, None if kind == "correct" else kind)
            findings, _ = timed_check(context_from_array(case.image), settings)
            for profile in settings:
                tally = out[profile][kind]
                tally.n += 1
                tally.flagged += bool(findings[profile])
                malformed[profile][kind] += any(i.measurements.get("kind") == "malformed" for _, i in findings[profile])
    return {"profiles": out, "malformed": malformed}


def print_malformed(engine: str, result: dict) -> None:
    print(f"\n== malformed letters (fixtures/text_gen.py make_malformed_case), engine={engine}: images flagged "
          f"by any TEXT rule (by the malformed-letter check)")
    for profile in result["profiles"]:
        cells = [f"{kind} {_ratio(t.flagged, t.n)} ({result['malformed'][profile][kind]})"
                 for kind, t in result["profiles"][profile].items()]
        print(f"{profile:8} " + "; ".join(cells))


# ---------------------------------------------------------------- names with digits

def evaluate_codes(engine: str, n: int) -> dict:
    """TEXT003 given the intended text, on signs with a name of letters and digits
    (``make_code_case``): per profile the signs with a digit changed that it flags, by the
    digit check (kind "digit") and at all, and the correct signs it flags."""
    settings = {p: settings_for(p, engine) for p in PROFILES}
    out = {p: {"changed": Tally(), "correct": Tally()} for p in PROFILES}
    digit = {p: 0 for p in PROFILES}
    for seed in range(n):
        for changed in (True, False):
            case = make_code_case(seed, changed)
            ctx = context_from_array(case.image, expected_text=(case.intended,))
            findings, _ = timed_check(ctx, settings, codes=("TEXT003",))
            for profile in PROFILES:
                tally = out[profile]["changed" if changed else "correct"]
                tally.n += 1
                tally.flagged += bool(findings[profile])
                if changed:
                    digit[profile] += any(i.measurements.get("kind") == "digit" for _, i in findings[profile])
                elif findings[profile]:
                    tally.names.append(f"{case.text!r}: {[i.message[:70] for _, i in findings[profile]]}")
    return {"profiles": out, "digit": digit}


def print_codes(engine: str, result: dict, verbose: bool = False) -> None:
    print(f"\n== names with digits given as intended text (fixtures/text_gen.py make_code_case), engine={engine}: "
          f"TEXT003 on a digit changed (by the digit check), on correct signs")
    for profile, r in result["profiles"].items():
        print(f"{profile:8} digit changed flagged {_ratio(r['changed'].flagged, r['changed'].n)} "
              f"({result['digit'][profile]}); correct flagged {_ratio(r['correct'].flagged, r['correct'].n)}")
        if verbose:
            for name in r["correct"].names:
                print(f"   false alarm: {name}")


# ---------------------------------------------------------------- corpus labels

@dataclass(frozen=True)
class CorpusSample:
    path: Path
    category: str
    label: str
    defective: bool
    intended: tuple[str, ...]
    # no lettering in the image, by its label: `clean/`, and `metadata/` pictures whose prompt
    # asks for no text (`quoted_text=none`) other than the UI screenshot. The postcards
    # whose prompt quotes text show it, and are timed with the images with text.
    text_free: bool = False
    source: str = ""  # the repository the image comes from (source_repo in the manifest)


_QUOTED = re.compile(r'"([^"]+)"')


def intended_text(label: str) -> tuple[str, ...]:
    """Quoted strings of the label's intended part (before what was rendered)."""
    head = re.split(r";\s*rendered|->|\brendered\b", label, maxsplit=1)[0]
    if "quoted_text=" in label:
        head = label.split("quoted_text=", 1)[1].split(";", 1)[0]
    strings = [s.strip() for s in _QUOTED.findall(head) if s.strip()]
    return tuple(dict.fromkeys(strings))


def corpus_samples(root: Path = CORPUS) -> list[CorpusSample]:
    samples = []
    with open(root / "MANIFEST.tsv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            category = row["category"]
            if category not in ("text_ai", "text_ai_borderline", "clean", "metadata"):
                continue
            label = row["label"]
            defective = category == "text_ai" and bool(re.search(r"\b(GARBLED|ERROR)\b", label))
            text_free = category == "clean" or (category == "metadata" and "quoted_text=none" in label
                                                 and "screenshot" not in label)
            samples.append(CorpusSample(root / row["file"], category, label, defective, intended_text(label),
                                        text_free, row["source_repo"]))
    return samples


# ---------------------------------------------------------------- evaluations

@dataclass
class Tally:
    n: int = 0
    hits: int = 0
    alarms: int = 0  # findings on images that should have none
    flagged: int = 0  # images with at least one finding that should have none
    names: list[str] = field(default_factory=list)


def _matches_typo(issue, typo_word: str) -> bool:
    word = str(issue.measurements.get("word", ""))
    return normalized_edit_similarity(word.lower(), typo_word.lower()) >= 0.6


LARGE_SIDE = 1024


def evaluate_generated(engine: str, n: int, seed0: int = 0, size: tuple[int, int] = (512, 384),
                       text_free_n: int | None = None) -> dict:
    """Typo recall and false alarms on ``size`` (width, height) signs (seeds ``seed0``.. per
    style, typo and correct versions) and on ``text_free_n`` text-free images of the same
    size (default ``2 * n``); ms of the first profile."""
    width, height = size
    settings = {p: settings_for(p, engine) for p in PROFILES}
    by_style = {p: {s: {"typo": Tally(), "clean": Tally()} for s in STYLES} for p in PROFILES}
    text_free = {p: Tally() for p in PROFILES}
    ms_text, ms_free = [], []
    for style in STYLES:
        for i in range(n):
            for typo in (True, False):
                case = make_case(seed0 + i, style, typo, width=width, height=height)
                findings, ms = timed_check(context_from_array(case.image), settings)
                ms_text.append(ms)
                for profile in PROFILES:
                    tally = by_style[profile][style]["typo" if typo else "clean"]
                    tally.n += 1
                    # on a typo image, findings about anything else than the typo are false alarms too
                    hit = [code == "TEXT001" and _matches_typo(issue, case.typo_word) for code, issue in findings[profile]] \
                        if typo else [False] * len(findings[profile])
                    tally.hits += any(hit)
                    tally.alarms += hit.count(False)
                    tally.flagged += not typo and bool(findings[profile])
    for i in range(2 * n if text_free_n is None else text_free_n):
        findings, ms = timed_check(context_from_array(make_text_free(seed0 + i, width, height)), settings)
        ms_free.append(ms)
        for profile in PROFILES:
            text_free[profile].n += 1
            text_free[profile].alarms += len(findings[profile])
            text_free[profile].flagged += bool(findings[profile])
    return {"by_style": by_style, "text_free": text_free, "ms_text": ms_text, "ms_free": ms_free}


def evaluate_packing(engine: str, n: int) -> dict:
    """TEXT004 on words set letter by letter: recall on a widened gap and on a letter off
    the baseline (with check_baseline switched on, as it is off by default), false alarms
    on evenly set words."""
    settings = {p: settings_for(p, engine, {"text.packing": {"check_baseline": True}}) for p in PROFILES}
    out = {p: {kind: Tally() for kind in ("gap", "baseline", "even")} for p in PROFILES}
    for i in range(n):
        for defect in ("gap", "baseline", None):
            case = make_packing_case(i, defect)
            findings, _ = timed_check(context_from_array(case.image), settings, codes=("TEXT004",))
            for profile in PROFILES:
                tally = out[profile][defect or "even"]
                tally.n += 1
                tally.hits += bool(findings[profile])
                tally.alarms += len(findings[profile]) if defect is None else 0
    return out


def evaluate_labels(engine: str, n: int) -> dict:
    """Small labels on 1024-px pictures (``make_label_case``): per font size, how often the
    gate lets the image through, and how often the OCR reads every word of the label
    (normalized edit similarity at least 0.8 to a word read)."""
    out = {}
    for size in LABEL_SIZES:
        passed = read = 0
        for seed in range(n):
            case = make_label_case(seed, size)
            result = context_from_array(case.image).shared(read_text, OcrParams(engine=engine))
            passed += result.gate_passed
            seen = [w.text.lower() for w in result.words]
            read += all(any(normalized_edit_similarity(word.lower(), s) >= 0.8 for s in seen)
                        for word in case.text.split())
        out[size] = (passed, read, n)
    return out


def print_labels(engine: str, result: dict) -> None:
    print(f"\n== small labels on 1024x1024 pictures, engine={engine} (gate passed; every word read)")
    for size, (passed, read, n) in result.items():
        print(f"font {size:3d} px  gate passed {_ratio(passed, n)}  read {_ratio(read, n)}")


def evaluate_corpus(engine: str, root: Path = CORPUS) -> dict:
    settings = {p: settings_for(p, engine) for p in PROFILES}
    out = {p: {"defect": Tally(), "defect_with_expected": Tally(), "correct": Tally(),
               "correct_with_expected": Tally(), "borderline": Tally(), "clean": Tally(), "metadata": Tally()}
           for p in PROFILES}
    similarities, exact, ms_text, ms_free, second_ms = [], [], [], [], []
    records: list[SampleRecord] = []
    for sample in corpus_samples(root):
        ctx = context_from_path(sample.path)
        findings, ms = timed_check(ctx, settings, codes=("TEXT001", "TEXT002", "TEXT003", "TEXT004"))
        (ms_free if sample.text_free else ms_text).append(ms)
        if not sample.text_free:
            second_ms.append(second_reading_ms(sample.path, engine))
        read = " ".join(line.text for line in ctx.shared(read_text, OcrParams(engine=engine)).lines)
        if sample.category == "text_ai" and sample.intended:
            sims = [expected_text_match(t, read) for t in sample.intended]
            similarities.append(statistics.mean(s for s, _, _ in sims))
            exact.append(all(e for _, e, _ in sims))
        with_expected = None
        if sample.intended and sample.category == "text_ai":
            ctx_expected = context_from_path(sample.path, expected_text=sample.intended)
            ctx_expected._memo = ctx._memo  # same image, same OCR: reuse it
            # all four rules, as when the prompt or a sidecar gives the intended text: TEXT003
            # checks it is shown, and TEXT001/2 accept its words
            with_expected = {p: run_all(ctx_expected, settings[p], ("TEXT001", "TEXT002", "TEXT003", "TEXT004"))
                             for p in PROFILES}
        if sample.category == "text_ai":
            records.append(SampleRecord(sample.source, sample.path.name, sample.defective,
                                        {p: tuple(float(issue.confidence) for _, issue in findings[p]) for p in PROFILES}))
        for profile in PROFILES:
            got = findings[profile]
            names = sorted({f"{code}:{issue.measurements.get('word') or issue.measurements.get('text') or ''}"[:40]
                            for code, issue in got})
            if sample.category == "text_ai" and sample.defective:
                tally = out[profile]["defect"]
                tally.n += 1
                tally.hits += bool(got)
                if not got:
                    tally.names.append(sample.path.name)
                both = out[profile]["defect_with_expected"]
                both.n += 1
                both.hits += bool(got) or bool(with_expected and with_expected[profile])
                if not (got or (with_expected and with_expected[profile])):
                    both.names.append(sample.path.name)
            else:
                key = {"text_ai": "correct", "text_ai_borderline": "borderline"}.get(sample.category, sample.category)
                tally = out[profile][key]
                tally.n += 1
                tally.alarms += len(got)
                tally.flagged += bool(got)
                if got:
                    tally.names.append(f"{sample.path.name} {names}")
                if with_expected is not None and sample.category == "text_ai":
                    known = out[profile]["correct_with_expected"]
                    known.n += 1
                    known.alarms += len(with_expected[profile])
                    known.flagged += bool(with_expected[profile])
                    if with_expected[profile]:
                        known.names.append(sample.path.name)
    return {"profiles": out, "similarity": similarities, "exact": exact, "ms_text": ms_text, "ms_free": ms_free,
            "second_reading_ms": second_ms, "records": records}


# ---------------------------------------------------------------- per source, leave one source out

@dataclass(frozen=True)
class SampleRecord:
    """One text_ai corpus sample: its source, whether it is defective, and the confidences of
    the findings TEXT001-004 made on it (without intended text) per profile."""

    source: str
    name: str
    defective: bool
    confidences: dict[str, tuple[float, ...]]

    def flagged(self, profile: str, threshold: float = 0.0) -> bool:
        return any(c >= threshold for c in self.confidences[profile])


# the share of correct samples each profile may flag (issue #18's targets)
FALSE_ALARM_BUDGET = {"lenient": 0.06, "strict": 0.12}


def per_source(records: list[SampleRecord], profile: str, threshold: float = 0.0) -> dict[str, tuple[int, int, int, int]]:
    """source -> (defects found, defects, correct samples flagged, correct samples)."""
    out: dict[str, list[int]] = {}
    for r in records:
        row = out.setdefault(r.source, [0, 0, 0, 0])
        if r.defective:
            row[0] += r.flagged(profile, threshold)
            row[1] += 1
        else:
            row[2] += r.flagged(profile, threshold)
            row[3] += 1
    return {k: tuple(v) for k, v in sorted(out.items())}


def calibrated_threshold(records: list[SampleRecord], profile: str, budget: float) -> float:
    """The lowest finding confidence to report at (0: every finding, as the rules ship) for
    which at most ``budget`` of the correct samples in ``records`` are flagged."""
    candidates = sorted({0.0} | {c for r in records for c in r.confidences[profile]})
    correct = [r for r in records if not r.defective]
    for threshold in candidates:
        if sum(r.flagged(profile, threshold) for r in correct) <= budget * max(1, len(correct)):
            return threshold
    return float("inf")


def leave_one_source_out(records: list[SampleRecord], profile: str, budget: float) -> dict[str, tuple]:
    """For each source: the reporting threshold chosen on the other sources alone (the lowest
    that keeps their false alarms within ``budget``), and (defects found, defects, correct
    flagged, correct) on the held-out source at that threshold."""
    out = {}
    for source in sorted({r.source for r in records}):
        rest = [r for r in records if r.source != source]
        threshold = calibrated_threshold(rest, profile, budget)
        held = [r for r in records if r.source == source]
        out[source] = (threshold, per_source(held, profile, threshold)[source])
    return out


# generated correct signs the reporting threshold of the held-out figures is set on (issue #18
# item 1): none of them comes from the corpus, so every corpus source is unseen by it. Seeds
# apart from the typo benchmark's (0..n), the scripts' (200..) and the glyph calibration's (1000..)
THRESHOLD_SEED0 = 300


def generated_correct_records(engine: str, n: int, seed0: int = THRESHOLD_SEED0) -> list[SampleRecord]:
    """Finding confidences per profile on generated correct lettering (source "generated"):
    ``n`` correct signs per style (make_case) and ``n`` correct words set letter by letter
    (make_malformed_case without a defect)."""
    settings = {p: settings_for(p, engine) for p in PROFILES}
    images = [(f"sign-{style}-{seed}", make_case(seed, style, False).image)
              for style in STYLES for seed in range(seed0, seed0 + n)]
    images += [(f"word-{seed}", make_malformed_case(seed, None).image) for seed in range(seed0, seed0 + n)]
    records = []
    for name, image in images:
        findings, _ = timed_check(context_from_array(image), settings)
        records.append(SampleRecord("generated", name, False,
                                    {p: tuple(float(issue.confidence) for _, issue in findings[p]) for p in PROFILES}))
    return records


def print_sources(result: dict, generated: list[SampleRecord] | None = None) -> None:
    """Per source as shipped; leave one source out with the threshold chosen on the other
    sources; and, given ``generated`` correct signs, with the threshold chosen on those alone."""
    records = result["records"]
    for profile in PROFILES:
        budget = FALSE_ALARM_BUDGET[profile]
        print(f"\n== text_ai per source, {profile} (defects found; correct samples flagged), rules as shipped | "
              f"leave one source out: threshold on finding confidence chosen on the other sources "
              f"(false alarms <= {budget:.0%}), applied to the held-out one")
        shipped = per_source(records, profile)
        held_out = leave_one_source_out(records, profile, budget)
        totals = [0] * 8
        for source, (found, defects, flagged, correct) in shipped.items():
            threshold, (h_found, h_defects, h_flagged, h_correct) = held_out[source]
            print(f"{source:32} defects {_ratio(found, defects):>13} correct flagged {_ratio(flagged, correct):>13} | "
                  f"t={threshold:.2f} defects {_ratio(h_found, h_defects):>13} correct flagged {_ratio(h_flagged, h_correct):>13}")
            for i, v in enumerate((found, defects, flagged, correct, h_found, h_defects, h_flagged, h_correct)):
                totals[i] += v
        print(f"{'all sources':32} defects {_ratio(totals[0], totals[1]):>13} correct flagged {_ratio(totals[2], totals[3]):>13} | "
              f"held out   defects {_ratio(totals[4], totals[5]):>13} correct flagged {_ratio(totals[6], totals[7]):>13}")
        if generated:
            threshold = calibrated_threshold(generated, profile, budget)
            found, defects, flagged, correct = (sum(cells[i] for cells in per_source(records, profile, threshold).values())
                                                for i in range(4))
            gen_flagged = sum(r.flagged(profile) for r in generated)
            print(f"{'threshold set on generated':32} t={threshold:.2f} (generated correct signs flagged as shipped "
                  f"{_ratio(gen_flagged, len(generated))}): every source unseen: defects {_ratio(found, defects)} "
                  f"correct flagged {_ratio(flagged, correct)}")


# ---------------------------------------------------------------- lettering in other scripts

# seeds of the script cases the benchmark measures: the thresholds were looked at on seeds
# 0-11, and failures on seeds 100-109 were looked into; what is reported comes after those
SCRIPT_SEED0 = 200


def evaluate_scripts(engine: str, n: int, seed0: int = SCRIPT_SEED0) -> dict:
    """Correct lettering in each script of ``SCRIPTS`` (none of it may be flagged) and CJK
    pseudo-characters (which TEXT002 should flag), ``n`` signs each: per profile the images
    flagged by any TEXT rule, and the ms of the first profile."""
    settings = {p: settings_for(p, engine) for p in PROFILES}
    out = {p: {} for p in PROFILES}
    ms, names = [], []
    for script in SCRIPTS:
        for pseudo in ((False, True) if script == "cjk" else (False,)):
            key = f"{script} pseudo" if pseudo else script
            for profile in PROFILES:
                out[profile][key] = Tally()
            for seed in range(seed0, seed0 + n):
                case = make_script_case(seed, script, pseudo)
                findings, elapsed = timed_check(context_from_array(case.image), settings)
                ms.append(elapsed)
                for profile in PROFILES:
                    tally = out[profile][key]
                    tally.n += 1
                    tally.flagged += bool(findings[profile])
                    if bool(findings[profile]) != pseudo:
                        names.append(f"{profile} {key} {case.text!r}: {[i.message[:60] for _, i in findings[profile]]}")
    return {"profiles": out, "ms": ms, "names": names}


def print_scripts(engine: str, result: dict, verbose: bool) -> None:
    print(f"\n== generated signs in other scripts, engine={engine} (images flagged by TEXT001-004; "
          f"correct lettering must not be, CJK pseudo-characters should)")
    for profile in PROFILES:
        cells = [f"{key} {_ratio(t.flagged, t.n)}" for key, t in result["profiles"][profile].items()]
        print(f"{profile:8} " + "; ".join(cells))
    print(f"median ms per image: {_median(result['ms'])} (n={len(result['ms'])})")
    if verbose:
        for name in result["names"]:
            print(f"   wrong: {name}")


# ---------------------------------------------------------------- printing

def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f} ({a}/{b})" if b else "n/a"


def _median(values) -> str:
    """Median wall ms / median CPU ms of (wall, cpu) pairs."""
    if not values:
        return "n/a"
    return f"{statistics.median(v[0] for v in values):.0f} wall / {statistics.median(v[1] for v in values):.0f} cpu"


def print_generated(engine: str, result: dict, title: str = "generated signs") -> None:
    print(f"\n== {title}, engine={engine} (typo recall; false alarms per image)")
    print(f"{'profile':8} {'style':9} {'typo recall':>16} {'FA/typo img':>12} {'FA/correct img':>15}")
    for profile in PROFILES:
        for style in STYLES:
            t, c = result["by_style"][profile][style]["typo"], result["by_style"][profile][style]["clean"]
            print(f"{profile:8} {style:9} {_ratio(t.hits, t.n):>16} {t.alarms / max(1, t.n):12.2f} "
                  f"{c.alarms / max(1, c.n):15.2f}")
        tf = result["text_free"][profile]
        print(f"{profile:8} {'text-free':9} false alarms per image {tf.alarms / max(1, tf.n):.3f} "
              f"(images flagged {_ratio(tf.flagged, tf.n)})")
    print(f"median ms per image: with text {_median(result['ms_text'])} (n={len(result['ms_text'])}), "
          f"text-free {_median(result['ms_free'])} (n={len(result['ms_free'])})")
    print(f"(load average during the run: {_load()})")


def _load() -> str:
    try:
        import os

        return ", ".join(f"{v:.1f}" for v in os.getloadavg()) + f" on {os.cpu_count()} cores"
    except OSError:
        return "unknown"


def print_packing(engine: str, result: dict) -> None:
    print(f"\n== TEXT004 on words set letter by letter, engine={engine}")
    for profile in PROFILES:
        r = result[profile]
        print(f"{profile:8} widened gap recall {_ratio(r['gap'].hits, r['gap'].n)}; "
              f"letter off the baseline recall {_ratio(r['baseline'].hits, r['baseline'].n)}; "
              f"even words flagged {_ratio(r['even'].hits, r['even'].n)}")


def print_corpus(engine: str, result: dict, verbose: bool) -> None:
    print(f"\n== corpus ({CORPUS}), engine={engine}")
    for profile in PROFILES:
        r = result["profiles"][profile]
        print(f"{profile:8} defect recall, TEXT001/2/4 alone: {_ratio(r['defect'].hits, r['defect'].n)}; "
              f"with intended text for TEXT003: {_ratio(r['defect_with_expected'].hits, r['defect_with_expected'].n)}")
        print(f"{profile:8} correct samples flagged {_ratio(r['correct'].flagged, r['correct'].n)}, "
              f"findings {r['correct'].alarms}; borderline flagged {_ratio(r['borderline'].flagged, r['borderline'].n)}; "
              f"clean (text-free) flagged {_ratio(r['clean'].flagged, r['clean'].n)}; "
              f"metadata flagged {_ratio(r['metadata'].flagged, r['metadata'].n)}")
        known = r["correct_with_expected"]
        print(f"{profile:8} correct samples flagged when their intended text is known (TEXT001-004): "
              f"{_ratio(known.flagged, known.n)}, findings {known.alarms}")
        if verbose:
            print(f"   missed defects: {r['defect'].names}")
            print(f"   missed even with intended text: {r['defect_with_expected'].names}")
            for name in r["correct"].names + r["clean"].names + r["metadata"].names:
                print(f"   false alarm: {name}")
            print(f"   flagged with intended text known: {known.names}")
    sims = result["similarity"]
    if sims:
        print(f"normalized edit similarity read vs intended (text_ai, n={len(sims)}): mean {statistics.mean(sims):.3f}, "
              f"median {statistics.median(sims):.3f}; exact match {_ratio(sum(result['exact']), len(result['exact']))}")
    print(f"median ms per image: with text {_median(result['ms_text'])} (n={len(result['ms_text'])}), "
          f"text-free {_median(result['ms_free'])} (n={len(result['ms_free'])})")
    second = result["second_reading_ms"]
    if second:
        print(f"strict's second reading (TEXT004, Tesseract re-reads each line) on images with text: "
              f"median {statistics.median(second):.0f} ms CPU, max {max(second):.0f} (n={len(second)})")
    print(f"(load average during the run: {_load()})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: " + ", ".join(ENGINES))
    parser.add_argument("--n", type=int, default=20, help="generated images per style and typo/no-typo")
    parser.add_argument("--large-n", type=int, default=10,
                        help=f"{LARGE_SIDE}x{LARGE_SIDE} images per style and typo/no-typo (0: skip)")
    parser.add_argument("--script-n", type=int, default=10, help="generated signs per script (and CJK pseudo-characters)")
    parser.add_argument("--skip-generated", action="store_true")
    parser.add_argument("--skip-corpus", action="store_true")
    parser.add_argument("--malformed-n", type=int, default=60, help="generated signs per kind of malformed letter")
    parser.add_argument("--threshold-n", type=int, default=12,
                        help="generated correct signs per style (and words) the held-out threshold is also set on (0: skip)")
    parser.add_argument("--verbose", action="store_true", help="name missed and falsely flagged corpus files")
    parser.add_argument("--calibrate-glyphs", action="store_true",
                        help="write rules/text/data/glyph_calibration.txt from generated correct signs, and stop")
    args = parser.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)  # as in noticer's workers (one per core): the figures are for one core
    if args.calibrate_glyphs:
        calibrate_glyphs()
        return
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        if not args.skip_generated:
            print_generated(engine, evaluate_generated(engine, args.n))
            print_packing(engine, evaluate_packing(engine, args.n))
            print_malformed(engine, evaluate_malformed(engine, args.malformed_n))
            print_codes(engine, evaluate_codes(engine, args.n), args.verbose)
            print_scripts(engine, evaluate_scripts(engine, args.script_n), args.verbose)
            if args.large_n > 0:
                print_generated(engine, evaluate_generated(engine, args.large_n, size=(LARGE_SIDE, LARGE_SIDE),
                                                   text_free_n=args.large_n),
                                f"generated signs at {LARGE_SIDE}x{LARGE_SIDE}")
                print_labels(engine, evaluate_labels(engine, args.large_n * 2))
        if not args.skip_corpus:
            if (CORPUS / "MANIFEST.tsv").is_file():
                corpus = evaluate_corpus(engine)
                print_corpus(engine, corpus, args.verbose)
                print_sources(corpus, generated_correct_records(engine, args.threshold_n) if args.threshold_n else None)
            else:
                print(f"corpus not found at {CORPUS}: corpus figures skipped")


if __name__ == "__main__":
    main()
