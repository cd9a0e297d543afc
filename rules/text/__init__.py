"""Rendered text: misspelled words (TEXT001), garbled pseudo-text (TEXT002), expected text
missing (TEXT003) and badly packed lettering (TEXT004), one module per rule.

All four read the same OCR result, computed once per image through
``ctx.shared(read_text, OcrParams(engine=...))`` (rules/text/ocr.py); what they share sits
in analysis modules: words.py (dictionary), verdicts.py (spelling verdicts), prompt.py
(the text asked for), packing.py (letter rhythm), settings.py and shared.py.
"""
from __future__ import annotations

from rules.text.packing import baseline_jumps, gap_jumps, split_in_second_reading
from rules.text.prompt import ExpectedSettings, expected_strings, expected_text_match
from rules.text.settings import ocr_params
from rules.text.text001 import TEXT001
from rules.text.text002 import TEXT002
from rules.text.text003 import TEXT003
from rules.text.text004 import TEXT004
from rules.text.verdicts import framed_verdicts, judge_word

RULES = (TEXT001, TEXT002, TEXT003, TEXT004)

__all__ = ["RULES", "TEXT001", "TEXT002", "TEXT003", "TEXT004", "ExpectedSettings", "baseline_jumps",
           "expected_strings", "expected_text_match", "framed_verdicts", "gap_jumps", "judge_word",
           "ocr_params", "split_in_second_reading"]
