"""META001 and the metadata parser, on PNGs written here and on the real corpus files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from checker.metadata import extract_metadata, parse_a1111, quoted_strings
from checker.testing import context_from_array, run_rule
from rules.metadata import META001

A1111 = ('a sign that says "OPEN", masterpiece\nNegative prompt: blurry, bad hands\n'
         'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512, Model hash: abc')
COMFY_PROMPT = json.dumps({
    "3": {"class_type": "KSampler", "inputs": {"positive": ["6", 0], "negative": ["7", 0], "seed": 5}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": 'a cafe with a sign reading "LATTE"', "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["4", 1]}},
})


def _png(info):
    return context_from_array(np.full((80, 80, 3), 128, np.uint8), info=info)


def test_a1111_parameters_give_prompt_and_negative():
    pos, neg = parse_a1111(A1111)
    assert pos == 'a sign that says "OPEN", masterpiece'
    assert neg == "blurry, bad hands"


def test_comfyui_positive_prompt_follows_the_sampler_links():
    md = extract_metadata({"prompt": COMFY_PROMPT, "workflow": "{}"})
    assert md.tool == "comfyui"
    assert md.positive_prompt == 'a cafe with a sign reading "LATTE"'
    assert md.negative_prompt == "text, watermark"
    assert md.quoted_text == ("LATTE",)


def test_novelai_comment_json():
    comment = json.dumps({"prompt": '1girl, holding a board that says "HELLO"', "uc": "lowres", "seed": 1})
    md = extract_metadata({"Comment": comment, "Description": "1girl", "Software": "NovelAI"})
    assert md.tool == "novelai" and md.quoted_text == ("HELLO",)
    assert set(md.keys) == {"Comment", "Description"}


def test_exif_user_comment_prompt():
    raw = b"UNICODE\x00" + A1111.encode("utf-16-be")
    md = extract_metadata({}, {}, {0x9286: raw})
    assert md.keys == ("exif:UserComment",) and md.positive_prompt.startswith("a sign")


@pytest.mark.parametrize("chunk,tool,positive", [
    ('{"Prompt": "a sign that says \\"OPEN\\"", "Negative Prompt": "", "Seed": "123", "Version": "Fooocus v2.5"}',
     "fooocus", 'a sign that says "OPEN"'),
    ('{"sui_image_params": {"prompt": "a red bicycle", "negativeprompt": "blur", "seed": 42}}', "swarmui",
     "a red bicycle"),
])
def test_json_parameters_are_read_as_json_not_as_a1111_text(chunk, tool, positive):
    """Found by a review: Fooocus's and SwarmUI's JSON was read as A1111 text, so its keys and
    punctuation became 'quoted text' and TEXT003 expected ': 42,' to be shown."""
    md = extract_metadata({"parameters": chunk})
    assert (md.tool, md.positive_prompt) == (tool, positive)
    assert md.quoted_text == (("OPEN",) if tool == "fooocus" else ())


def test_prompts_in_a_midjourney_description_exif_image_description_or_jpeg_comment_are_found(tmp_path):
    """Leaks a review found passing silently."""
    from PIL import Image

    from checker.imageio import load_image

    mj = extract_metadata({"Description": 'a sign that says "OPEN" --ar 3:2 --v 6.1 Job ID: 1234abcd'})
    assert (mj.tool, mj.positive_prompt, mj.quoted_text) == ("midjourney", 'a sign that says "OPEN"', ("OPEN",))
    described = extract_metadata({}, exif={0x010E: "a castle, Steps: 20, Sampler: Euler a, Seed: 7"})
    assert described.keys == ("exif:ImageDescription",)
    path = tmp_path / "c.jpg"
    Image.new("RGB", (32, 32), (120, 90, 60)).save(path, comment=b"masterpiece, Negative prompt: blur, Steps: 30")
    loaded = load_image(path)
    assert extract_metadata(loaded.info, loaded.exif, loaded.exif_ifd).keys == ("jpeg:comment",)
    assert not extract_metadata({"Description": "Holiday photo --- the lake -- at dawn"}).found


def test_plain_description_is_not_generation_metadata():
    md = extract_metadata({"Description": "Holiday photo of the lake", "Software": "GIMP"})
    assert not md.found


@pytest.mark.parametrize("prompt,expected", [
    ('a sign that says "OPEN" and a cat', ("OPEN",)),
    ("curly \u201cHello World\u201d quotes", ("Hello World",)),
    ("no quotes at all", ()),
    ("a neon sign that says 'OPEN'", ("OPEN",)),
    ("the dog's 'SALE' sign, it's the cat's toy", ("SALE",)),  # apostrophes are no quotes
    ('a poster "OPEN", in the style of "Studio Ghibli", by "Mucha"', ("OPEN",)),
    # found by a review: a lone letter, a style named after its quote, an apostrophe inside
    ("a rock 'n' roll poster", ()),
    ("a neon sign 'OPEN' in the 'cyberpunk' style", ("OPEN",)),
    ('a "Ghibli" aesthetic poster that says "HELLO"', ("HELLO",)),
    ("a sign reading 'Joe's Diner', it's late", ("Joe's Diner",)),
    ('a sign that says "A"', ("A",)),  # a double-quoted letter is text to show
    # a cue word further on, or not naming a style, leaves the text to show
    ('a shop sign with the word "Bakery" styled in elegant gold script', ("Bakery",)),
    ('a t-shirt that says "HELLO", model wearing it on a runway', ("HELLO",)),
    ("a neon sign reading 'OPEN', style of the 80s", ("OPEN",)),
])
def test_quoted_strings(prompt, expected):
    assert quoted_strings(prompt) == expected


@pytest.mark.parametrize("info,keys", [
    ({"parameters": A1111}, ["parameters"]),
    ({"prompt": COMFY_PROMPT, "workflow": "{}"}, ["prompt", "workflow"]),
])
def test_meta001_reports_keys_and_prompt(info, keys):
    (finding,) = run_rule(META001, _png(info))
    assert finding.code == "META001" and finding.rule == "metadata.generation-info"
    assert finding.measurements["keys"] == keys
    assert finding.measurements["quoted_text"] in (["OPEN"], ["LATTE"])
    assert finding.region is None


def test_meta001_silent_without_metadata():
    assert run_rule(META001, _png({"Title": "my drawing"})) == []


def test_meta001_severity_follows_profile():
    (lenient,) = run_rule(META001, _png({"parameters": A1111}), profile="lenient")
    (strict,) = run_rule(META001, _png({"parameters": A1111}), profile="strict")
    assert (lenient.severity.value, strict.severity.value) == ("warning", "error")


@pytest.mark.corpus
def test_meta001_finds_every_corpus_metadata_file(corpus):
    from checker.testing import context_from_path

    files = sorted((corpus / "metadata").glob("*.png"))
    assert files
    found = 0
    quoted = {}
    for f in files:
        findings = run_rule(META001, context_from_path(f))
        found += bool(findings)
        if findings:
            quoted[f.name] = findings[0].measurements["quoted_text"]
    assert found == len(files)
    assert quoted["comfy_zimage_postcard_text.png"] == ["ZImage, Now in ComfyUI"]
    assert quoted["comfy_flux2_postcard_text.png"] == ["Flux 2, Now in ComfyUI"]


@pytest.mark.corpus
def test_meta001_benchmark_figures_hold(corpus, tmp_path):
    """Figures reached by `python -m bench.metadata`: every real and generated file right."""
    from bench.metadata import corpus_cases, evaluate, generated_cases

    score, mistakes, _, (quotes_right, quotes_total) = evaluate(corpus_cases(corpus))
    assert (score.precision, score.recall) == (1.0, 1.0), mistakes
    assert quotes_right == quotes_total >= 8
    score, mistakes, _, (quotes_right, quotes_total) = evaluate(generated_cases(tmp_path))
    assert score.fp == 0 and score.fn == 0, mistakes
    assert quotes_right == quotes_total
