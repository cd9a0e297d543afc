"""Generation metadata left in the file (META001)."""
from __future__ import annotations

from dataclasses import dataclass

from checker.model import Issue, Severity
from checker.rule import Rule


@dataclass(frozen=True)
class MetadataSettings:
    prompt_preview_chars: int = 200  # how much of the prompt the finding quotes
    report_workflow_only: bool = True  # report files that carry a workflow graph but no prompt text


def check_generation_metadata(ctx, settings: MetadataSettings):
    """
    What it detects
        Generation settings stored in the file: AUTOMATIC1111/Forge `parameters` (and the JSON
        Fooocus and SwarmUI write under that key), ComfyUI `prompt` and `workflow` graphs,
        NovelAI `Comment`/`Description`, InvokeAI metadata, a Midjourney description
        (`... --ar 3:2 --v 6.1 Job ID: ...`), and prompts in EXIF UserComment or
        ImageDescription or a JPEG comment. The measurements name the keys found, the tool,
        and the positive prompt with any quoted strings in it (which TEXT003 uses as expected
        text).

    Why people notice
        Anyone who downloads the file can read the prompt, the negative prompt, the seed,
        the model and the whole workflow: a leak of work you may not mean to publish.

    Settings
        prompt_preview_chars: how many characters of the prompt the finding quotes.
        report_workflow_only: also report a ComfyUI workflow graph without a prompt.

    Known limits
        Only metadata in PNG text chunks and EXIF is read; XMP sidecars and C2PA manifests
        are not. Strip it with an exporter that drops text chunks, or re-save without metadata.
    """
    md = ctx.metadata
    if not md.found:
        return
    if not md.positive_prompt and set(md.keys) <= {"workflow"} and not settings.report_workflow_only:
        return
    prompt = md.positive_prompt or ""
    preview = prompt[: settings.prompt_preview_chars]
    what = ", ".join(md.keys)
    tool = {"a1111": "AUTOMATIC1111", "comfyui": "ComfyUI", "novelai": "NovelAI", "invokeai": "InvokeAI",
            "fooocus": "Fooocus", "swarmui": "SwarmUI", "midjourney": "Midjourney"}.get(md.tool or "", md.tool or "unknown tool")
    message = f"generation metadata left in the file ({tool}: {what})"
    if prompt:
        message += f"; prompt starts {preview[:60]!r}"
    yield Issue(
        message=message,
        confidence=1.0,
        measurements={
            "keys": list(md.keys),
            "tool": md.tool,
            "prompt": preview,
            "prompt_chars": len(prompt),
            "negative_prompt_present": bool(md.negative_prompt),
            "quoted_text": list(md.quoted_text),
        },
    )


META001 = Rule(
    code="META001",
    name="metadata.generation-info",
    summary="Generation metadata (prompt, seed, workflow) left in the file",
    check=check_generation_metadata,
    severity=Severity.WARNING,
    settings=MetadataSettings,
    profiles={"lenient": {"severity": "warning"}, "strict": {"severity": "error"}},
)

RULES = (META001,)
