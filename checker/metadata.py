"""Generation metadata that AI tools leave in image files.

Known places:
- AUTOMATIC1111 / Forge: PNG text chunk ``parameters`` (prompt, ``Negative prompt:``, settings line),
  or the same text in EXIF UserComment for JPEG/WebP.
- ComfyUI: PNG text chunks ``prompt`` (API graph, JSON) and ``workflow`` (UI graph, JSON).
- NovelAI: PNG text chunks ``Description`` (the prompt), ``Comment`` (JSON with ``prompt``, ``uc``,
  ``seed`` ...), ``Software: NovelAI``, ``Source``.
- InvokeAI: ``invokeai_metadata`` / ``sd-metadata`` / ``Dream`` chunks.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

GENERATION_KEYS = ("parameters", "prompt", "workflow", "Comment", "Description",
                   "invokeai_metadata", "sd-metadata", "Dream", "generation_data")
EXIF_USER_COMMENT = 0x9286
EXIF_IMAGE_DESCRIPTION = 0x010E
EXIF_IFD = 0x8769

# double, curly and single quotes; a single quote only where no letter touches it from
# outside, so that the apostrophes of "the dog's 'SALE' sign" are not taken for quotes, and
# an apostrophe inside a single-quoted string ('Joe's Diner') does not end it; a single-
# quoted string needs two characters ('n' of rock 'n' roll is no text to show)
_QUOTED = re.compile(r'"([^"\n]{1,200})"|\u201c([^\u201d\n]{1,200})\u201d'
                     r"|(?<!\w)'((?:[^'\n]|'(?=\w)){2,200})'(?!\w)"
                     r"|(?<!\w)\u2018((?:[^\u2019\n]|\u2019(?=\w)){2,200})\u2019(?!\w)")
# words that, placed just before a quoted string, say it names a style, an artist or a
# model rather than text to render: in the style of "Studio Ghibli", by "Mucha"
_NOT_TEXT_CUE = re.compile(r"\b(style|styles|styled|by|artists?|inspired|aesthetic|lora|embedding|model|"
                           r"checkpoint|sampler)\W*(of|after|like)?\W*$", re.IGNORECASE)
# and placed right after it: a 'cyberpunk' style, "Ghibli" aesthetic (only a space between:
# "Bakery" styled in gold and "HELLO", model wearing it ask for the text)
_NOT_TEXT_AFTER = re.compile(r"^\s{1,2}(style|styles|aesthetic|lora|embedding|checkpoint)\b", re.IGNORECASE)


@dataclass(frozen=True)
class GenerationMetadata:
    keys: tuple[str, ...]  # where metadata was found, e.g. ("prompt", "workflow") or ("exif:UserComment",)
    tool: str | None  # "a1111", "comfyui", "novelai", "invokeai", "fooocus", "swarmui", "other" or None
    positive_prompt: str | None
    negative_prompt: str | None
    raw: Mapping[str, str]

    @property
    def found(self) -> bool:
        return bool(self.keys)

    @property
    def quoted_text(self) -> tuple[str, ...]:
        return quoted_strings(self.positive_prompt or "")


def quoted_strings(prompt: str) -> tuple[str, ...]:
    """Quoted strings in a prompt, the text it asks the image to show (``a sign that says
    "OPEN"`` and ``a sign that says 'OPEN'`` give ``("OPEN",)``), except those right after a
    style, artist or model cue (``in the style of "Studio Ghibli"``) or right before one
    (``a 'cyberpunk' style``)."""
    out = []
    for match in _QUOTED.finditer(prompt):
        text = next((g for g in match.groups() if g), "").strip()
        if (not text or _NOT_TEXT_CUE.search(prompt[max(0, match.start() - 30):match.start()])
                or _NOT_TEXT_AFTER.search(prompt[match.end():match.end() + 30])):
            continue
        if text not in out:
            out.append(text)
    return tuple(out)


def _as_text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return decode_user_comment(value)
    if isinstance(value, str):
        return value
    return None


def decode_user_comment(raw: bytes) -> str | None:
    """EXIF UserComment: 8-byte charset header (ASCII, UNICODE, JIS) then the text."""
    if not raw:
        return None
    header, body = raw[:8], raw[8:]
    if header.startswith(b"UNICODE"):
        for enc in ("utf-16-be", "utf-16-le"):
            try:
                text = body.decode(enc)
                if text and all(ch.isprintable() or ch in "\n\r\t" for ch in text[:200]):
                    return text.rstrip("\x00")
            except UnicodeDecodeError:
                continue
        return None
    if header.startswith(b"ASCII") or header == b"\x00" * 8:
        return body.decode("utf-8", "replace").rstrip("\x00")
    return raw.decode("utf-8", "replace").rstrip("\x00")


def extract_metadata(info: Mapping[str, Any], exif: Mapping[int, Any] | None = None,
                     exif_ifd: Mapping[int, Any] | None = None) -> GenerationMetadata:
    raw: dict[str, str] = {}
    for key in GENERATION_KEYS:
        text = _as_text(info.get(key))
        if text and text.strip():
            raw[key] = text
    software = _as_text(info.get("Software")) or ""
    comment = None
    for source in (exif_ifd or {}, exif or {}):
        if EXIF_USER_COMMENT in source:
            comment = _as_text(source[EXIF_USER_COMMENT])
            break
    if comment and _looks_generated(comment):
        raw["exif:UserComment"] = comment
    # other places a prompt is left: EXIF's ImageDescription and a JPEG comment (COM segment)
    for key, text in (("exif:ImageDescription", _as_text((exif or {}).get(EXIF_IMAGE_DESCRIPTION))),
                      ("jpeg:comment", _as_text(info.get("comment")))):
        if text and _looks_generated(text):
            raw[key] = text

    tool = positive = negative = None
    if "parameters" in raw or "exif:UserComment" in raw:
        text = raw.get("parameters") or raw["exif:UserComment"]
        parsed = _json(text)
        if isinstance(parsed, dict):  # Fooocus and SwarmUI write JSON where A1111 writes text
            tool, positive, negative = json_parameters(parsed)
        else:
            tool = "a1111"
            positive, negative = parse_a1111(text)
    if "prompt" in raw or "workflow" in raw:
        tool = "comfyui"
        pos, neg = parse_comfyui(raw.get("prompt"), raw.get("workflow"))
        positive, negative = pos or positive, neg or negative
    if "Comment" in raw or "NovelAI" in software:
        parsed = _json(raw.get("Comment"))
        if isinstance(parsed, dict) and ("prompt" in parsed or "uc" in parsed):
            tool = "novelai"
            positive = _text(parsed.get("prompt")) or raw.get("Description") or positive
            negative = _text(parsed.get("uc")) or negative
        elif "Description" in raw and "NovelAI" in software:
            tool = "novelai"
            positive = raw["Description"]
        elif "Comment" in raw and not _looks_generated(raw["Comment"]):
            raw.pop("Comment")
    if "Description" in raw and tool != "novelai" and not _looks_generated(raw["Description"]):
        raw.pop("Description")  # an ordinary image description, not a prompt
    if tool is None and ("invokeai_metadata" in raw or "sd-metadata" in raw or "Dream" in raw):
        tool = "invokeai"
        parsed = _json(raw.get("invokeai_metadata") or raw.get("sd-metadata"))
        if isinstance(parsed, dict):
            positive = parsed.get("positive_prompt") or _mapping(parsed.get("image")).get("prompt")
            if isinstance(positive, list) and positive and isinstance(positive[0], dict):
                positive = positive[0].get("prompt")
            negative = parsed.get("negative_prompt")
        elif "Dream" in raw:
            positive = raw["Dream"].split(" -", 1)[0].strip().strip('"')
    if tool is None:
        for key in ("Description", "exif:ImageDescription", "jpeg:comment", "Comment"):
            prompt = _midjourney_prompt(raw.get(key, ""))
            if prompt:
                tool, positive = "midjourney", prompt
                break
    if tool is None and any(k in raw for k in ("generation_data", "exif:ImageDescription", "jpeg:comment")):
        tool = "other"
    return GenerationMetadata(keys=tuple(raw), tool=tool,
                              positive_prompt=positive if isinstance(positive, str) else None,
                              negative_prompt=negative if isinstance(negative, str) else None,
                              raw=raw)


def _looks_generated(text: str) -> bool:
    lowered = text.lower()
    if any(cue in lowered for cue in ("steps:", "sampler", "cfg scale", "seed:", "negative prompt",
                                      '"prompt"', "model hash", "job id:")):
        return True
    return _midjourney_prompt(text) is not None


_MIDJOURNEY_PARAMETERS = re.compile(r"\s--(?:ar|v|niji|stylize|style|chaos|seed|q|s)\s+\S+")


def _midjourney_prompt(text: str) -> str | None:
    """The prompt of a Midjourney description (``a castle at dusk --ar 3:2 --v 6.1 Job ID: ...``):
    the text before its first ``--`` parameter, when it has two or more of them."""
    found = list(_MIDJOURNEY_PARAMETERS.finditer(text))
    if len(found) < 2:
        return None
    return text[:found[0].start()].strip() or None


def _json(text: str | None) -> Any:
    """The JSON in a metadata text, or None. Anyone can write these chunks: nesting deeper
    than Python's recursion limit raises RecursionError, not ValueError, and is no JSON
    here either; what parses may still be any shape, so readers check types."""
    if not text:
        return None
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError, MemoryError):
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    """A JSON object as it should be, or an empty one when the file has something else there
    (ComfyUI ``inputs`` written as a list, an InvokeAI ``image`` that is a string)."""
    return value if isinstance(value, dict) else {}


def json_parameters(parsed: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """(tool, positive, negative) from a JSON ``parameters`` chunk: Fooocus writes
    ``{"Prompt": ..., "Negative Prompt": ...}`` (older versions lower-case), SwarmUI nests
    ``{"sui_image_params": {"prompt": ..., "negativeprompt": ...}}``. Taking it for A1111's
    text format made its keys and punctuation quoted 'prompt text'."""
    if isinstance(parsed.get("sui_image_params"), dict):
        params = parsed["sui_image_params"]
        return "swarmui", params.get("prompt"), params.get("negativeprompt")
    by_key = {str(k).lower().replace("_", " "): v for k, v in parsed.items()}
    tool = "fooocus" if "fooocus" in str(parsed.get("Version", parsed.get("version", ""))).lower() \
        or "Negative Prompt" in parsed else "other"
    return tool, by_key.get("prompt") or by_key.get("positive prompt"), by_key.get("negative prompt")


def parse_a1111(text: str) -> tuple[str | None, str | None]:
    """A1111 layout: prompt lines, optional 'Negative prompt: ...' lines, last line 'Steps: ...'."""
    lines = text.strip().split("\n")
    if lines and re.match(r"^\s*Steps:\s*\d+", lines[-1]):
        lines = lines[:-1]
    body = "\n".join(lines)
    positive, _, negative = body.partition("Negative prompt:")
    return positive.strip() or None, negative.strip() or None


MAX_COMFY_STEPS = 5000  # links followed through one ComfyUI graph
_TEXT_INPUT_KEYS = ("text", "text_g", "text_l", "prompt", "positive", "string", "value", "t5xxl", "clip_l")


def parse_comfyui(prompt_json: str | None, workflow_json: str | None) -> tuple[str | None, str | None]:
    """Find positive and negative prompt texts in ComfyUI's API graph.

    The graph maps node ids to ``{"class_type", "inputs"}``; links are ``[node_id, output_index]``.
    From every sampler-like node follow its ``positive``/``negative`` inputs back to the nodes
    that hold text. Falls back to every text-encoder's text."""
    graph = _json(prompt_json)
    if not isinstance(graph, dict):
        return None, None
    nodes = {str(k): v for k, v in graph.items() if isinstance(v, dict)}
    budget = [MAX_COMFY_STEPS]  # links followed in all: a graph that fans out must not explode

    def texts_from(link: Any, depth: int = 0) -> list[str]:
        if depth > 12 or budget[0] <= 0:
            return []
        budget[0] -= 1
        if not (isinstance(link, list) and link):
            return [link] if isinstance(link, str) and link.strip() else []
        if not isinstance(link[0], (str, int)):
            return []
        node = nodes.get(str(link[0]))
        if not node:
            return []
        found: list[str] = []
        for key, value in _mapping(node.get("inputs")).items():
            if isinstance(value, str) and key in _TEXT_INPUT_KEYS and value.strip():
                found.append(value)
            elif isinstance(value, list) and key not in ("clip", "model", "vae", "image", "latent_image",
                                                           "samples", "mask", "pixels"):
                found.extend(texts_from(value, depth + 1))
        return found

    positives: list[str] = []
    negatives: list[str] = []
    for node in nodes.values():
        inputs = _mapping(node.get("inputs"))
        if "positive" in inputs or "negative" in inputs or "conditioning" in inputs:
            if "positive" in inputs:
                positives.extend(texts_from(inputs["positive"]))
            elif "conditioning" in inputs and "guider" in str(node.get("class_type", "")).lower():
                positives.extend(texts_from(inputs["conditioning"]))
            if "negative" in inputs:
                negatives.extend(texts_from(inputs["negative"]))
    if not positives:
        for node in nodes.values():
            if "textencode" in str(node.get("class_type", "")).lower().replace("_", ""):
                positives.extend(v for k, v in _mapping(node.get("inputs")).items()
                                 if k in _TEXT_INPUT_KEYS and isinstance(v, str) and v.strip())
    dedup = lambda xs: list(dict.fromkeys(x.strip() for x in xs if x.strip()))  # noqa: E731
    pos, neg = dedup(positives), [n for n in dedup(negatives) if n not in positives]
    return ("\n".join(pos) or None), ("\n".join(neg) or None)
