"""The text an image was asked to show: the config's ``expected-text``, the quoted strings
of the generation prompt, a sidecar beside the image; and how closely what OCR read matches it."""
from __future__ import annotations

import re
from dataclasses import dataclass

from rules.text.reading import OcrLine
from rules.text.settings import DEFAULT_ENGINE, validate_text_settings
from rules.text.words import best_substring_similarity, compact_text, letter_runs, normalize_text


@dataclass(frozen=True)
class ExpectedSettings:
    engine: str = DEFAULT_ENGINE
    detection_side: int = 960
    min_similarity: float = 0.8  # normalized edit similarity below this is reported
    use_prompt: bool = True  # quoted strings of the generation prompt
    use_sidecar: bool = True  # <image>.txt next to the image
    # an unquoted sidecar of one line and at most this many words is the text to show
    # ("Grand Opening"); a longer one is a caption or a prompt: only its quoted strings count
    sidecar_max_words: int = 4
    # a name or code mixing letters and digits (ByT5, GPT4, A380) shown with a digit changed
    # (ByT3) is reported however similar the rest: one edit in a long text hides it, and a
    # digit changes what the name names
    check_digits: bool = True

    def __post_init__(self) -> None:
        validate_text_settings(self)


def expected_strings(ctx, settings: ExpectedSettings) -> tuple[tuple[str, str], ...]:
    """(source, text) pairs of text the image should show: config entry, prompt quotes, sidecar."""
    from checker.metadata import parse_a1111, quoted_strings

    found: list[tuple[str, str]] = [("config", t) for t in (ctx.expected_text or ()) if t.strip()]
    if settings.use_prompt:
        found += [("prompt", t) for t in ctx.metadata.quoted_text]
    if settings.use_sidecar and ctx.sidecar_text:
        sidecar = ctx.sidecar_text.strip()
        if "Negative prompt:" in sidecar:  # a copy of A1111's parameters: the positive prompt only
            sidecar = parse_a1111(sidecar)[0] or ""
        quoted = quoted_strings(sidecar)
        if quoted:
            found += [("sidecar", t) for t in quoted]
        elif sidecar and "\n" not in sidecar and len(sidecar.split()) <= settings.sidecar_max_words:
            found.append(("sidecar", sidecar))
    unique: dict[str, tuple[str, str]] = {}
    for source, text in found:
        unique.setdefault(compact_text(text), (source, text))
    return tuple(v for k, v in unique.items() if k)


def expected_text_match(expected: str, read: str) -> tuple[float, bool, str]:
    """(normalized edit similarity, exact match, best-matching read substring) of expected
    text against everything read, compared without case, accents, punctuation and spaces."""
    want = compact_text(expected)
    have = compact_text(read)
    similarity, match = best_substring_similarity(want, have)
    return similarity, want in have, match


def lines_holding(lines: tuple[OcrLine, ...], match: str) -> list[OcrLine]:
    """The lines a best match found by ``expected_text_match`` (in the compact form of all
    lines' text, in reading order) comes from: each line's compact text follows the last."""
    if not match:
        return []
    compact = [compact_text(line.text) for line in lines]
    start = "".join(compact).find(match)
    if start < 0:
        return []
    end, out, offset = start + len(match), [], 0
    for line, piece in zip(lines, compact):
        if piece and offset < end and offset + len(piece) > start:
            out.append(line)
        offset += len(piece)
    return out


def expected_words(ctx) -> frozenset[str]:
    """The words of the text this image was asked to show (``expected_text`` in the config,
    the prompt's quoted strings, the sidecar, as TEXT003 finds them), lower-cased: what the
    author asked for is no misspelling, even when no dictionary has it (a band's name, a pun)."""
    return frozenset(run.lower() for _, text in expected_strings(ctx, ExpectedSettings())
                     for run in letter_runs(text))


_TOKENS = re.compile(r"[^\W_]+")


def changed_digits(expected: str, read: str) -> list[tuple[str, str]]:
    """(expected token, read token) for each token of ``expected`` that mixes letters and
    digits (``ByT5``) and is not read anywhere, while a read token has the same letters in
    the same places and other digits (``ByT3``). Numbers alone are left out: any other
    number in the image would match them. Compared without case and accents."""
    want = [t for t in _TOKENS.findall(normalize_text(expected))
            if any(c.isdigit() for c in t) and any(c.isalpha() for c in t)]
    have = _TOKENS.findall(normalize_text(read))
    out = []
    for token in dict.fromkeys(want):
        if token in have:
            continue
        for other in have:
            if len(other) == len(token) and other != token and all(
                    b.isdigit() if a.isdigit() else a == b for a, b in zip(token, other)):
                out.append((token, other))
                break
    return out
