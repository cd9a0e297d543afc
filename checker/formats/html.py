"""A self-contained HTML report people can look at: one file, no network.

Each image gets a card with a thumbnail (a downscaled JPEG embedded as a ``data:`` URI),
its defect regions drawn over it in an SVG whose coordinates are the image's own pixels,
its verdict and its findings. Below the cards the findings are grouped by rule. Filters
hide cards by verdict and by rule; a click on a thumbnail opens a larger copy with the same
regions (Escape or a click closes it). The page's address can carry a view to share:
``report.html#verdict=fail,warn&rule=HAND001`` filters, ``#view=N`` opens the N-th card.

Every string that comes from an image or its run (file names, messages with OCR text or
prompts, measurements) is HTML-escaped; the page's Content-Security-Policy forbids any
network access, so a hostile file name or prompt can neither run script nor load anything.

The format reads the checked images (read-only) to make the previews. ``sources`` maps a
report path to the file that was checked when they differ (``--staged`` reads from git).
"""
from __future__ import annotations

import base64
import html
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from ..imageio import ImageLoadError, load_image
from ..model import Finding, ImageResult, Report, Severity, Verdict

# region colours (also used by the browser test to find the drawn regions in a screenshot)
SEVERITY_COLOURS = {Severity.ERROR: "#ff00ff", Severity.WARNING: "#ffaa00", Severity.INFO: "#00c8ff"}
VERDICT_ORDER = (Verdict.FAIL, Verdict.ERROR, Verdict.WARN, Verdict.PASS)


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def jpeg_data_uri(rgb: np.ndarray, longest_side: int, quality: int = 82) -> str:
    """The image shrunk so its longest side is at most ``longest_side``, as a JPEG data URI."""
    from PIL import Image

    picture = Image.fromarray(np.ascontiguousarray(rgb[:, :, :3]).astype(np.uint8), "RGB")
    picture.thumbnail((longest_side, longest_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    picture.save(buf, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def region_svg(image: ImageResult) -> str:
    """An SVG overlay in the image's pixel coordinates with one outlined box per region."""
    if not image.width or not image.height:
        return ""
    font = max(12, round(min(image.width, image.height) / 40))
    shapes = []
    for f in sorted(image.findings, key=lambda f: f.severity.rank):
        if f.region is None:
            continue
        r, colour = f.region, SEVERITY_COLOURS[f.severity]
        shapes.append(
            f'<rect x="{r.x}" y="{r.y}" width="{r.width}" height="{r.height}" fill="none" stroke="{colour}" '
            f'stroke-width="3" vector-effect="non-scaling-stroke" data-code="{esc(f.code)}">'
            f"<title>{esc(f.code)}: {esc(f.message)}</title></rect>"
            f'<text class="label" x="{r.x}" y="{max(font, r.y - 4)}" font-size="{font}" fill="{colour}">'
            f"{esc(f.code)}</text>")
    return (f'<svg viewBox="0 0 {image.width} {image.height}" preserveAspectRatio="none" '
            f'xmlns="http://www.w3.org/2000/svg" aria-hidden="true">{"".join(shapes)}</svg>')


def _finding_item(f: Finding, path: str | None = None) -> str:
    where = (f"at {f.region.x},{f.region.y} {f.region.width}&times;{f.region.height}"
             if f.region else "whole image")
    measurements = json.dumps(dict(f.measurements), indent=1, ensure_ascii=False, default=str)
    who = f'<span class="path">{esc(path)}</span>: ' if path is not None else ""
    return (f'<li class="sev-{f.severity.value}">{who}<b>{esc(f.code)}</b> <span class="sev">{f.severity.value}</span> '
            f"{esc(f.message)} <small>({where}, confidence {f.confidence:.2f})</small>"
            f"<details><summary>measurements</summary><pre>{esc(measurements)}</pre></details></li>")


STYLE = """
:root{--bg:#f6f6f4;--fg:#1d1d1f;--card:#fff;--muted:#666}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
header{padding:12px 20px;background:#222;color:#eee}header h1{margin:0 0 4px;font-size:20px}
#filters{display:flex;flex-wrap:wrap;gap:14px;align-items:center;margin-top:8px}
main{padding:16px 20px}#cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:16px}
.card{background:var(--card);border-radius:6px;padding:10px;box-shadow:0 1px 3px #0003;border-top:5px solid #999}
.card.v-pass{border-top-color:#2a2}.card.v-warn{border-top-color:#e90}.card.v-fail{border-top-color:#d22}
.card.v-error{border-top-color:#909}.card h2{font-size:13px;margin:8px 0 4px;word-break:break-all}
.shot{display:block;width:100%;padding:0;border:0;background:#ddd;cursor:zoom-in}
.frame{position:relative;width:100%}.frame img{display:block;width:100%;height:100%}
.frame svg{position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none}
.shot .label{display:none}.noimg{padding:40px 8px;color:var(--muted);text-align:center}
.verdict{display:inline-block;padding:1px 8px;border-radius:9px;color:#fff;font-weight:600}
.verdict.v-pass{background:#2a2}.verdict.v-warn{background:#e90}.verdict.v-fail{background:#d22}.verdict.v-error{background:#909}
ul.findings{padding-left:18px;margin:6px 0}li{margin:3px 0}.sev{font-size:11px;text-transform:uppercase;color:var(--muted)}
li.sev-error b{color:#c0c}li.sev-warning b{color:#c70}li.sev-info b{color:#09c}
details pre{white-space:pre-wrap;word-break:break-all;font-size:11px;background:#f0f0f0;padding:4px}
#by-rule details.rule{background:var(--card);margin:8px 0;padding:6px 10px;border-radius:6px}
#viewer{position:fixed;inset:0;background:#000d;display:flex;flex-direction:column;align-items:center;
justify-content:center;z-index:9;cursor:zoom-out}#viewer[hidden]{display:none}
#viewer .frame{width:auto;height:auto;max-width:95vw;max-height:85vh}#viewer p{color:#eee;margin:8px}
[hidden]{display:none!important}
"""

SCRIPT = """
(function(){
  var boxes = Array.prototype.slice.call(document.querySelectorAll('#filters input[name=verdict]'));
  var rule = document.getElementById('rule-filter');
  function apply(){
    var on = {}; boxes.forEach(function(b){ on[b.value] = b.checked; });
    var r = rule.value;
    document.querySelectorAll('.card').forEach(function(c){
      var rules = c.getAttribute('data-rules').split(' ');
      c.hidden = !(on[c.getAttribute('data-verdict')] && (r === '' || rules.indexOf(r) >= 0));
    });
    document.querySelectorAll('#by-rule details.rule').forEach(function(d){
      d.hidden = (r !== '' && d.getAttribute('data-rule') !== r);
      d.querySelectorAll('li[data-verdict]').forEach(function(li){ li.hidden = !on[li.getAttribute('data-verdict')]; });
    });
  }
  boxes.forEach(function(b){ b.addEventListener('change', apply); });
  rule.addEventListener('change', apply);
  var full = JSON.parse(document.getElementById('full-images').textContent);
  var viewer = document.getElementById('viewer');
  function open(card){
    var i = card.getAttribute('data-index');
    var frame = viewer.querySelector('.frame');
    var source = card.querySelector('.shot .frame');
    frame.style.aspectRatio = source.style.aspectRatio;
    var w = +card.getAttribute('data-width'), h = +card.getAttribute('data-height');
    var scale = Math.min(window.innerWidth * 0.95 / w, window.innerHeight * 0.85 / h);
    frame.style.width = Math.round(w * scale) + 'px'; frame.style.height = Math.round(h * scale) + 'px';
    frame.querySelector('img').src = full[i] || source.querySelector('img').src;
    var old = frame.querySelector('svg'); if (old) { frame.removeChild(old); }
    var svg = source.querySelector('svg'); if (svg) { frame.appendChild(svg.cloneNode(true)); }
    viewer.querySelector('p').textContent = card.getAttribute('data-path');
    viewer.hidden = false;
  }
  document.querySelectorAll('.card .shot').forEach(function(s){
    s.addEventListener('click', function(){ open(s.closest('.card')); });
  });
  viewer.addEventListener('click', function(){ viewer.hidden = true; });
  document.addEventListener('keydown', function(e){ if (e.key === 'Escape') { viewer.hidden = true; } });
  // links can carry the view: #verdict=fail,warn&rule=HAND001 filters, #view=N opens image N
  var params = {};
  location.hash.replace(/^#/, '').split('&').forEach(function(kv){
    var p = kv.split('='); if (p.length === 2) { params[p[0]] = decodeURIComponent(p[1]); }
  });
  if (params.verdict) {
    var want = params.verdict.split(',');
    boxes.forEach(function(b){ b.checked = want.indexOf(b.value) >= 0; });
  }
  if (params.rule) { rule.value = params.rule; }
  apply();
  if (params.view) {
    var c = document.querySelector('.card[data-index="' + (+params.view) + '"]'); if (c) { open(c); }
  }
})();
"""


@dataclass
class HtmlFormat:
    name = "html"
    extension = ".html"
    color: bool = False
    thumbnail_side: int = 360  # longest side of the embedded thumbnails, pixels
    full_side: int = 1600  # longest side of the larger copy of an image with findings (0: the thumbnail)
    sources: Mapping[str, str] = field(default_factory=dict)

    def _pixels(self, image: ImageResult) -> np.ndarray | None:
        if image.verdict is Verdict.ERROR and not image.width:
            return None
        try:
            return load_image(Path(self.sources.get(image.path, image.path))).rgb
        except (ImageLoadError, OSError, MemoryError):
            return None

    def _card(self, index: int, image: ImageResult, full: list[str]) -> str:
        rgb = self._pixels(image)
        codes = " ".join(dict.fromkeys(f.code for f in image.findings))
        width, height = image.width or 1, image.height or 1
        if rgb is not None:
            thumb = jpeg_data_uri(rgb, self.thumbnail_side)
            # larger copies only where there is something to look at: keeps big reports small
            full.append(jpeg_data_uri(rgb, self.full_side, 85) if self.full_side and image.findings else "")
            shot = (f'<button class="shot" type="button" title="show larger">'
                    f'<div class="frame" style="aspect-ratio:{width}/{height}"><img alt="" src="{thumb}">'
                    f"{region_svg(image)}</div></button>")
        else:
            full.append("")
            shot = '<div class="noimg">no preview: the image could not be read</div>'
        findings = "".join(_finding_item(f) for f in image.findings) or "<li>no findings</li>"
        size = f"{image.width}&times;{image.height}" if image.width else "unreadable"
        return (f'<article class="card v-{image.verdict.value}" data-index="{index}" '
                f'data-verdict="{image.verdict.value}" data-rules="{esc(codes)}" data-path="{esc(image.path)}" '
                f'data-width="{width}" data-height="{height}">{shot}'
                f'<h2 class="path">{esc(image.path)}</h2><span class="verdict v-{image.verdict.value}">'
                f"{image.verdict.value}</span> <small>{size}</small>"
                f'<ul class="findings">{findings}</ul></article>')

    def render(self, report: Report) -> str:
        ordered = sorted(report.images, key=lambda i: (VERDICT_ORDER.index(i.verdict), i.path))
        full: list[str] = []
        cards = [self._card(n, image, full) for n, image in enumerate(ordered)]
        by_rule: dict[str, list[tuple[ImageResult, Finding]]] = defaultdict(list)
        for image in ordered:
            for f in image.findings:
                by_rule[f.code].append((image, f))
        rule_info = {r.code: r for r in report.rules}
        groups = []
        for code in sorted(by_rule):
            rule = rule_info.get(code)
            title = f"{code} {rule.name}: {rule.summary}" if rule else code
            items = "".join(_finding_item(f, image.path).replace("<li ", f'<li data-verdict="{image.verdict.value}" ', 1)
                            for image, f in by_rule[code])
            groups.append(f'<details class="rule" open data-rule="{esc(code)}"><summary>{esc(title)} '
                          f"({len(by_rule[code])})</summary><ul>{items}</ul></details>")
        s = report.summary
        counts = ", ".join(f"{s[v.value]} {v.value}" for v in VERDICT_ORDER)
        verdict_boxes = "".join(
            f'<label><input type="checkbox" name="verdict" value="{v.value}" checked> {v.value} ({s[v.value]})</label>'
            for v in VERDICT_ORDER)
        rule_options = "".join(f'<option value="{esc(c)}">{esc(c)} ({len(by_rule[c])})</option>' for c in sorted(by_rule))
        # the larger copies travel as JSON in a script block; they are base64 data URIs we made
        full_json = json.dumps(full).replace("<", "\\u003c")
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="noticer {esc(report.tool_version)}">
<title>noticer report: {s['images']} images, {esc(report.profile)}</title><style>{STYLE}</style></head>
<body><header><h1>noticer report</h1>
<div>{s['images']} image{'s' if s['images'] != 1 else ''} checked with profile <b>{esc(report.profile)}</b>
(fail-on {report.fail_on.value}): {counts}</div>
<form id="filters">{verdict_boxes}
<label>rule <select id="rule-filter"><option value="">all rules</option>{rule_options}</select></label></form>
</header><main>
<section id="cards">{''.join(cards)}</section>
<section id="by-rule"><h2>Findings by rule</h2>{''.join(groups) or '<p>No findings.</p>'}</section>
</main>
<div id="viewer" hidden><div class="frame"><img alt=""></div><p></p></div>
<script type="application/json" id="full-images">{full_json}</script>
<script>{SCRIPT}</script>
</body></html>
"""
