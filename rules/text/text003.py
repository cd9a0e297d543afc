"""TEXT003: text the image was asked to show is missing or misspelled."""
from __future__ import annotations

from typing import Iterator

from checker.model import Issue, Region, Severity
from checker.rule import Rule
from rules.text.prompt import ExpectedSettings, changed_digits, expected_strings, expected_text_match, lines_holding
from rules.text.settings import SHARED_OCR_SETTINGS, ocr_engine_missing
from rules.text.shared import ocr
from rules.text.words import normalize_text


def check_expected(ctx, settings: ExpectedSettings) -> Iterator[Issue]:
    """
    What it detects
        Text the image was asked to show that the image does not show, or shows
        misspelled. The text comes from the config's `expected-text` table (globs to text),
        the quoted strings of the prompt in the file's metadata (A1111, ComfyUI, ...; not the
        negative prompt, nor quotes after "in the style of" or "by"), and a sidecar beside
        the image (`poster.txt` or `poster.png.txt`): its quoted strings, or the whole of a
        short one ("Grand Opening"). Measured as normalized edit similarity
        (1 - edit distance / longer length) and exact match, as AnyText and TextDiffuser do.

    Why people notice
        The sign says `LATETEN DIFFUSION` when it should say `Latent Diffusion`, or a word
        asked for is missing: the author sees it at once; viewers see a misspelling.

    Settings
        engine: OCR engine for all TEXT rules.
        min_similarity: report below this similarity (lenient 0.8, strict 0.95).
        use_prompt / use_sidecar: where expected text may come from (config always counts).
        sidecar_max_words: an unquoted one-line sidecar of at most this many words (4) is
        the text itself; a longer one is a caption or a prompt, whose quoted strings count.
        check_digits: a name or code of letters and digits (ByT5, GPT4, A380) shown with
        other digits in the same letters (ByT3) is reported even when the whole text is
        similar enough: one edit in a long text hides it. Numbers alone are not checked.

    Known limits
        Case, punctuation and spaces are ignored. OCR misreadings of script or decorative
        fonts lower the similarity of correct renderings; text split across distant places
        in the image is matched in reading order only.
    """
    wanted = expected_strings(ctx, settings)
    if not wanted:
        return
    result = ocr(ctx, settings)
    read = " ".join(line.text for line in result.lines)
    for source, text in wanted:
        similarity, exact, match = expected_text_match(text, read)
        if similarity >= settings.min_similarity:
            if settings.check_digits:
                yield from _digit_changes(result, source, text, read, similarity)
            continue
        holding = lines_holding(result.lines, match)
        if holding:
            shown = f"closest reading {' / '.join(line.text for line in holding)!r}"
        else:
            shown = "no text read" if not result.lines else "nothing like it read"
        region = None
        if holding:
            region = Region.from_bounds(min(line.box.x0 for line in holding), min(line.box.y0 for line in holding),
                                        max(line.box.x1 for line in holding), max(line.box.y1 for line in holding))
        yield Issue(
            message=f"expected text {text!r} (from {source}) not shown: {shown}, similarity {similarity:.2f}",
            region=region,
            confidence=round(1.0 - similarity, 3),
            measurements={"expected": text, "source": source, "read": read[:200], "closest": match,
                          "normalized_edit_similarity": round(similarity, 4), "exact_match": exact,
                          "engine": result.engine},
        )


def _digit_changes(result, source: str, text: str, read: str, similarity: float) -> Iterator[Issue]:
    for want, shown in changed_digits(text, read):
        holding = [line for line in result.lines if shown in normalize_text(line.text).split()]
        region = None
        if holding:
            box = holding[0].box
            region = Region.from_bounds(box.x0, box.y0, box.x1, box.y1)
        yield Issue(
            message=f"expected text {text!r} (from {source}) shows {shown!r} for {want!r}: a digit changed",
            region=region,
            confidence=0.9,
            measurements={"expected": text, "source": source, "read": read[:200], "closest": shown,
                          "kind": "digit", "normalized_edit_similarity": round(similarity, 4),
                          "exact_match": False, "engine": result.engine},
        )


TEXT003 = Rule(
    code="TEXT003",
    name="text.expected",
    summary="Text the prompt asked for is missing or misspelled",
    check=check_expected,
    severity=Severity.WARNING,
    settings=ExpectedSettings,
    shared_settings=SHARED_OCR_SETTINGS,
    preflight=ocr_engine_missing,
    profiles={"lenient": {"detection_side": 736, "min_similarity": 0.8}, "strict": {"min_similarity": 0.95, "severity": "error"}},
)
