"""The HTML report: self-contained, escaped, and its regions drawn where the JSON says.

The browser test opens the page in Debian's headless Chromium, takes screenshots and finds
the region outlines by their colour (error regions are drawn in pure magenta) relative to
the image's own position on screen.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from checker.formats.html import SEVERITY_COLOURS, HtmlFormat
from checker.model import Finding, ImageResult, Region, Report, Severity, Verdict
from fixtures.make_fixtures import save_png, scene
from tests.helpers import run_cli

HOSTILE_NAME = "<img src=x onerror=alert(1)>.png"
HOSTILE_WORD = "<script>alert('ocr')</script>"
GREEN = (0, 255, 0)  # no other colour of the page is near it
IMAGE_W, IMAGE_H = 400, 300
ERROR_BOX = Region(100, 50, 80, 60)
WARNING_BOX = Region(250, 180, 100, 90)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[tuple[str, str]] = []  # (innermost open tag, text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        if self.tags and data.strip():
            self.texts.append((self.tags[-1][0], data.strip()))


def parse(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(page)
    return parser.tags


def finding(code: str, severity: Severity, message: str, region: Region | None, **measurements) -> Finding:
    return Finding(code, f"test.{code.lower()}", severity, 0.9, message, region, measurements)


def report_with_regions(folder: Path) -> Report:
    green = folder / HOSTILE_NAME
    Image.fromarray(np.full((IMAGE_H, IMAGE_W, 3), GREEN, np.uint8)).save(green)
    clean = folder / "clean.png"
    save_png(clean, scene(200, 150, seed=3))
    findings = (
        finding("TEXT001", Severity.ERROR, f"misspelled word {HOSTILE_WORD!r}", ERROR_BOX, text=HOSTILE_WORD),
        finding("HAND001", Severity.WARNING, "hand with six fingers", WARNING_BOX, fingers=6),
        finding("META001", Severity.WARNING, 'prompt starts "<b>a cat</b>"', None, prompt="<b>a cat</b>"),
    )
    images = (
        ImageResult(str(green), "0" * 64, IMAGE_W, IMAGE_H, Verdict.FAIL, findings, {"load": 1.0}),
        ImageResult(str(clean), "1" * 64, 200, 150, Verdict.PASS, (), {"load": 1.0}),
        ImageResult(str(folder / "broken.png"), None, None, None, Verdict.ERROR,
                    (finding("IMG001", Severity.ERROR, "empty file (0 bytes)", None),), {}),
    )
    return Report("0.1.0", "strict", {}, images)


def test_every_string_from_an_image_is_escaped(tmp_path):
    page = HtmlFormat().render(report_with_regions(tmp_path))
    assert HOSTILE_NAME not in page and HOSTILE_WORD not in page and "<b>a cat</b>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in page
    assert "&lt;script&gt;alert(&#x27;ocr&#x27;)&lt;/script&gt;" in page
    tags = parse(page)
    assert [t for t, _ in tags].count("script") == 2, "only the page's own data and code blocks"
    assert not [a for _, a in tags if any(k.startswith("on") for k in a)], "no event-handler attributes"
    parser = Tags()
    parser.feed(page)
    assert ("b", "a cat") not in parser.texts, "no markup from a prompt became an element"
    assert any("<b>a cat</b>" in text for _, text in parser.texts), "it shows as text instead"


def test_page_is_self_contained(tmp_path):
    page = HtmlFormat().render(report_with_regions(tmp_path))
    tags = parse(page)
    assert not [t for t, _ in tags if t in ("link", "iframe", "object", "embed", "base")]
    for _, attrs in tags:
        for key in ("src", "href", "action", "poster"):
            value = attrs.get(key) or ""
            assert not value or value.startswith("data:image/"), f"{key}={value[:40]}"
    assert "default-src 'none'" in page
    images = [a["src"] for t, a in tags if t == "img" and a.get("src")]
    assert len(images) == 2, "a thumbnail per readable image; none for the broken one"
    assert "could not be read" in page


def test_cards_carry_verdicts_rules_and_findings_grouped_by_rule(tmp_path):
    page = HtmlFormat().render(report_with_regions(tmp_path))
    cards = [a for t, a in parse(page) if t == "article"]
    assert [c["data-verdict"] for c in cards] == ["fail", "error", "pass"], "worst first"
    assert cards[0]["data-rules"] == "TEXT001 HAND001 META001"
    groups = [a["data-rule"] for t, a in parse(page) if t == "details" and "data-rule" in a]
    assert groups == ["HAND001", "IMG001", "META001", "TEXT001"]
    options = [a["value"] for t, a in parse(page) if t == "option"]
    assert options == ["", "HAND001", "IMG001", "META001", "TEXT001"]
    verdict_filters = [a["value"] for t, a in parse(page) if t == "input" and a.get("name") == "verdict"]
    assert sorted(verdict_filters) == ["error", "fail", "pass", "warn"]
    full = json.loads(page.split('id="full-images">', 1)[1].split("</script>", 1)[0])
    assert len(full) == 3 and full[0].startswith("data:image/jpeg;base64,")
    assert full[1] == full[2] == "", "no larger copy of an unreadable or a passing image"


def test_cli_writes_the_html_report_for_real_images(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    save_png(folder / "a <b onmouseover=alert(1)>bold name.png", scene(128, 96, seed=1),
             {"parameters": 'a shop sign saying "<i>OPEN</i>"\nSteps: 20, Seed: 1'})
    out = tmp_path / "report.html"
    proc = run_cli("check", str(folder), "--format", "html", "--output", str(out), "--jobs", "0",
                   "--select", "META001", "--no-cache", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    assert "<b onmouseover" not in page and "<i>OPEN</i>" not in page
    assert "a &lt;b onmouseover=alert(1)&gt;bold name.png" in page and "&lt;i&gt;OPEN&lt;/i&gt;" in page
    assert page.count("data:image/jpeg;base64,") >= 1


# ----------------------------------------------------------------------------- in a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_command(profile: Path) -> list[str]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium package is not installed (make setup installs it)")
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}", "--virtual-time-budget=3000"]


def screenshot(page: Path, out: Path, profile: Path, width: int, height: int, fragment: str = "") -> np.ndarray:
    command = [*chromium_command(profile), f"--screenshot={out}", f"--window-size={width},{height}",
               page.resolve().as_uri() + fragment]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert out.is_file(), proc.stderr[-2000:]
    return np.asarray(Image.open(out).convert("RGB")).astype(int)


def colour_mask(shot: np.ndarray, rgb: tuple[int, int, int], tolerance: int) -> np.ndarray:
    return (np.abs(shot - np.array(rgb)) <= tolerance).all(axis=2)


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    assert len(xs), "colour not found in the screenshot"
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def largest_component(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    assert count, "colour not found in the screenshot"
    sizes = ndimage.sum(mask, labels, range(1, count + 1))
    return labels == (int(np.argmax(sizes)) + 1)


def assert_regions_drawn(shot: np.ndarray) -> None:
    """Find the green image on screen, then the magenta and orange outlines inside it, and
    compare their boxes with the regions scaled from image pixels to screen pixels."""
    x0, y0, x1, y1 = bbox(colour_mask(shot, GREEN, 40))
    scale_x, scale_y = (x1 - x0 + 1) / IMAGE_W, (y1 - y0 + 1) / IMAGE_H
    assert abs(scale_x - scale_y) < 0.02, "the thumbnail keeps the aspect ratio"
    inside = np.zeros(shot.shape[:2], bool)
    inside[max(0, y0 - 4):y1 + 5, max(0, x0 - 4):x1 + 5] = True
    for region, severity in ((ERROR_BOX, Severity.ERROR), (WARNING_BOX, Severity.WARNING)):
        colour = tuple(int(SEVERITY_COLOURS[severity][i:i + 2], 16) for i in (1, 3, 5))
        found = bbox(largest_component(colour_mask(shot, colour, 30) & inside))  # the outline, not its label
        expected = (x0 + region.x * scale_x, y0 + region.y * scale_y,
                    x0 + (region.x + region.width) * scale_x, y0 + (region.y + region.height) * scale_y)
        for got, want in zip(found, expected):
            assert abs(got - want) <= 3, f"{severity.value} region drawn at {found}, expected {expected}"
        hits = colour_mask(shot, colour, 30) & ~inside
        assert hits.sum() < 50, "that colour appears only around the regions"


@pytest.mark.slow
def test_regions_are_drawn_where_the_json_says_in_chromium(tmp_path):
    report = report_with_regions(tmp_path)
    page = tmp_path / "report.html"
    page.write_text(HtmlFormat().render(report), encoding="utf-8")
    thumbnails = screenshot(page, tmp_path / "cards.png", tmp_path / "profile1", 1000, 900)
    assert_regions_drawn(thumbnails)
    width = bbox(colour_mask(thumbnails, GREEN, 40))[2] - bbox(colour_mask(thumbnails, GREEN, 40))[0] + 1
    # the larger view, opened as a click on the thumbnail does (the page opens it for #view=N)
    viewer = screenshot(page, tmp_path / "viewer.png", tmp_path / "profile2", 1000, 900, "#view=0")
    assert_regions_drawn(viewer)
    big = bbox(colour_mask(viewer, GREEN, 40))
    assert big[2] - big[0] + 1 > 1.5 * width, "the viewer shows the image larger than its thumbnail"


@pytest.mark.slow
@pytest.mark.parametrize("fragment,visible", [
    ("", ["fail", "error", "pass"]),
    ("#verdict=fail,pass", ["fail", "pass"]),
    ("#rule=HAND001", ["fail"]),
    ("#rule=IMG001", ["error"]),
    ("#verdict=pass&rule=HAND001", []),
])
def test_filters_hide_cards_in_chromium(tmp_path, fragment, visible):
    """The filters' script, run by the browser (the address sets the filters as a click would)."""
    page = tmp_path / "report.html"
    page.write_text(HtmlFormat().render(report_with_regions(tmp_path)), encoding="utf-8")
    proc = subprocess.run([*chromium_command(tmp_path / "profile"), "--dump-dom", page.resolve().as_uri() + fragment],
                          capture_output=True, text=True, timeout=180)
    cards = [a for t, a in parse(proc.stdout) if t == "article"]
    assert len(cards) == 3, proc.stderr[-2000:]
    assert [c["data-verdict"] for c in cards if "hidden" not in c] == visible
    groups = {a["data-rule"]: "hidden" in a for t, a in parse(proc.stdout) if t == "details" and "data-rule" in a}
    if "rule=" in fragment:
        shown = fragment.split("rule=")[1]
        assert [code for code, hidden in groups.items() if not hidden] == [shown]
