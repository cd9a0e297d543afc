"""The hand analysis both hand rules share: detection, landmarks, finger counts, evidence.

`analyse_hands(ctx)` runs once per image (through ``ctx.shared``) and returns a
:class:`HandAnalysis`: every detected hand with its landmarks, handedness, scores, box,
extended-finger count, and the signals HAND001 and HAND002 decide on. MediaPipe is imported
and loaded lazily, once per process.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from checker.loading import loading_models
from checker.model import Region
from checker.quiet import native_stderr_silenced

from . import geometry as geo


@dataclass(frozen=True)
class DetectedHand:
    """One hand as MediaPipe reports it, in pixels of the full image."""

    points: np.ndarray  # 21x2 image pixels
    depth: np.ndarray  # 21 relative depths (MediaPipe z, in pixels of the image width)
    world: np.ndarray  # 21x3 metres, origin near the hand's centre
    handedness: str  # "Left" / "Right" as MediaPipe labels a mirrored (selfie) image
    score: float  # handedness/presence score of MediaPipe
    source: str  # "full", "tile" or "pose" (found at a wrist of MediaPipe Holistic's pose)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        x0, y0 = self.points.min(axis=0)
        x1, y1 = self.points.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def size(self) -> float:
        """Longer side of the landmark box, in pixels."""
        x0, y0, x1, y1 = self.bounds
        return max(x1 - x0, y1 - y0)

    @property
    def side(self) -> str:
        """The person's hand: MediaPipe labels assume a mirrored selfie, so they are swapped."""
        return {"Left": "right", "Right": "left"}.get(self.handedness, "unknown")


DRAWING_MODULES = ("mediapipe.python.solutions.drawing_utils", "mediapipe.python.solutions.drawing_styles")
# the Tasks API's audio, vision and LLM packages, which ``import mediapipe`` also loads
# eagerly (~100 ms of a worker's start; sounddevice's attempt alone ~45 ms); the solutions
# (Hands, Holistic) do not use them. Its text package stays: the Tasks API's __init__ takes
# BaseOptions from the core module that package imports.
TASK_MODULES = tuple(f"mediapipe.tasks.python.{name}" for name in ("audio", "genai", "vision"))
# fetches the pose models the wheel does not ship (complexity 0 and 2; noticer's Holistic uses
# 1, which ships); importing it loads urllib.request and http.client, ~25 ms of a worker's start
DOWNLOAD_MODULES = ("mediapipe.python.solutions.download_utils",)
# solutions noticer does not use, which ``mediapipe.solutions`` imports with the rest (and the
# option messages of their graphs): ~23 ms of a worker's first hand (10 alternated imports,
# medians 117 and 94 ms; the reports on the corpus's 369 hand images, with and without the
# pose search, are the same apart from timings). The face mesh stays: Holistic's graph runs
# its face landmarks, whose refinement options that module's imports register (without it,
# Holistic fails to open its graph).
UNUSED_SOLUTION_MODULES = tuple(f"mediapipe.python.solutions.{name}"
                                for name in ("face_detection", "objectron", "selfie_segmentation"))


def import_mediapipe():
    """``import mediapipe``, without the drawing helpers its package imports eagerly (they
    pull in matplotlib.pyplot, ~350 ms of every worker's start-up for code noticer never
    calls), the Tasks API's packages (``TASK_MODULES``), the model downloader
    (``DOWNLOAD_MODULES``) and the solutions noticer does not use (``UNUSED_SOLUTION_MODULES``).
    They are stood in for during the import; afterwards the package
    loads them on first use (``mp.solutions.drawing_utils`` or an explicit import gets the
    real module), and a module that took a stand-in during the import (Holistic and Pose
    keep the downloader) reaches the real module through it (:func:`_stand_in`)."""
    import sys

    if "mediapipe" in sys.modules:
        import mediapipe  # through the import lock: another thread may still be importing it

        return mediapipe
    stand_ins = {name: _stand_in(name)
                 for name in (*DRAWING_MODULES, *TASK_MODULES, *DOWNLOAD_MODULES, *UNUSED_SOLUTION_MODULES)
                 if name not in sys.modules}
    sys.modules.update(stand_ins)
    try:
        import mediapipe
    finally:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
            package_name, attribute = name.rsplit(".", 1)
            package = sys.modules.get(package_name)
            if package is None:
                continue
            if package.__dict__.get(attribute) is stand_in:
                delattr(package, attribute)
            if attribute not in package.__dict__:
                _load_on_first_use(package, attribute)
    return mediapipe


def _stand_in(name: str):
    """An empty module in place of ``name`` while MediaPipe imports. Asked for an attribute
    afterwards, it imports the real module (the stand-in is out of ``sys.modules`` by then)
    and answers with the real module's attribute."""
    import importlib
    import types

    stand_in = types.ModuleType(name)

    def __getattr__(attribute: str):
        real = importlib.import_module(name)
        if real is stand_in:  # still importing: nothing to forward to yet
            raise AttributeError(f"module {name!r} has no attribute {attribute!r} while MediaPipe imports")
        return getattr(real, attribute)

    stand_in.__getattr__ = __getattr__
    return stand_in


def _load_on_first_use(package, attribute: str) -> None:
    """Give ``package`` a module ``__getattr__`` (PEP 562) that imports ``attribute`` as its
    submodule when it is first asked for; importing sets the attribute, so it runs once."""
    import importlib

    previous = package.__dict__.get("__getattr__")

    def __getattr__(name: str):
        if name == attribute:
            return importlib.import_module(f"{package.__name__}.{name}")
        if previous is not None:
            return previous(name)
        raise AttributeError(f"module {package.__name__!r} has no attribute {name!r}")

    package.__getattr__ = __getattr__


# MediaPipe aborts the whole process (SIGABRT) on an image with a side of 32768 px or more;
# it is shown a copy no longer than this, and what it finds is mapped back
MEDIAPIPE_MAX_SIDE = 16384


def within_mediapipe_limit(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """The image, or a copy shrunk so its longer side is at most ``MEDIAPIPE_MAX_SIDE``,
    and the factor applied (pixel in the copy = pixel in ``rgb`` x factor)."""
    h, w = rgb.shape[:2]
    if max(h, w) <= MEDIAPIPE_MAX_SIDE:
        return rgb, 1.0
    import cv2

    factor = MEDIAPIPE_MAX_SIDE / max(h, w)
    size = (max(1, min(MEDIAPIPE_MAX_SIDE, round(w * factor))), max(1, min(MEDIAPIPE_MAX_SIDE, round(h * factor))))
    return cv2.resize(np.ascontiguousarray(rgb), size, interpolation=cv2.INTER_AREA), factor


# model_complexity=1: the full palm detector and landmark model. The lite ones (0), shipped
# in the same wheel, were measured for speed (2026-12-08, 60 corpus hand photos): 19.6-21.5
# ms of CPU per image against 24.8-26.8, about 1% of a mixed folder's CPU, for other
# landmarks than the ones the hand rules' thresholds were chosen on
@functools.lru_cache(maxsize=4)
def _hands_model(max_hands: int):
    with loading_models(), native_stderr_silenced():
        mp = import_mediapipe()
        return mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=max_hands,
                                        model_complexity=1, min_detection_confidence=0.5)


def detect_in(rgb: np.ndarray, max_hands: int = 4, source: str = "full",
              offset: tuple[float, float] = (0.0, 0.0), scale: float = 1.0) -> list[DetectedHand]:
    """Run MediaPipe Hands on an RGB array; map landmarks back by `offset` and `scale`
    (pixel in the full image = offset + pixel in `rgb` / scale)."""
    arr, shrunk = within_mediapipe_limit(np.ascontiguousarray(rgb, dtype=np.uint8))
    scale = scale * shrunk
    h, w = arr.shape[:2]
    # one silenced span from creating the model to its answer: MediaPipe opens the graph's
    # calculators (TensorFlow Lite prints its XNNPACK line there) on its own threads after the
    # constructor returns, so a gap between two spans let that line through under load
    with native_stderr_silenced():
        model = _hands_model(max_hands)
        result = model.process(arr)
    hands = []
    for lm, world, cls in zip(result.multi_hand_landmarks or [], result.multi_hand_world_landmarks or [],
                              result.multi_handedness or []):
        pts = np.array([[p.x * w, p.y * h] for p in lm.landmark], dtype=float) / scale + np.array(offset)
        depth = np.array([p.z * w for p in lm.landmark], dtype=float) / scale
        wpts = np.array([[p.x, p.y, p.z] for p in world.landmark], dtype=float)
        c = cls.classification[0]
        hands.append(DetectedHand(pts, depth, wpts, c.label, float(c.score), source))
    return hands


def _box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / ua if ua > 0 else 0.0


def merge_hands(hands: list[DetectedHand], iou: float = 0.3) -> list[DetectedHand]:
    """Drop hands that repeat a better-scored one (same hand seen in the full image and a tile)."""
    kept: list[DetectedHand] = []
    for hand in sorted(hands, key=lambda h: (h.source != "full", -h.score)):
        if all(_box_iou(hand.bounds, k.bounds) < iou for k in kept):
            kept.append(hand)
    return kept


def tile_boxes(width: int, height: int, tile: int, overlap: float = 0.25) -> list[tuple[int, int, int, int]]:
    """Overlapping square-ish tiles (x0, y0, x1, y1) covering the image."""
    boxes = []
    step = max(1, int(tile * (1 - overlap)))
    xs = list(range(0, max(width - tile, 0) + 1, step)) or [0]
    ys = list(range(0, max(height - tile, 0) + 1, step)) or [0]
    if xs[-1] + tile < width:
        xs.append(width - tile)
    if ys[-1] + tile < height:
        ys.append(height - tile)
    for y in ys:
        for x in xs:
            boxes.append((x, y, min(x + tile, width), min(y + tile, height)))
    return boxes


@dataclass(frozen=True)
class DetectionPlan:
    search_tiles: bool = True  # also search upscaled tiles (for hands too small for the full view)
    tile_min_side: int = 640  # images whose shorter side reaches this are also searched in tiles
    tiles_per_side: int = 2  # tiles along the shorter side
    tile_upscale_to: int = 512  # tiles smaller than this are upscaled before detection
    # a drawing (rules.hands.style.looks_drawn) where the full view finds no hand is also
    # searched in tiles of this share of its shorter side, whatever its size: MediaPipe's
    # palm detector misses small drawn (anime) hands a closer view finds
    drawing_tile_share: float = 0.75
    drawing_tile_min_side: int = 256  # smaller drawings are not tiled (a tile would be tiny)
    # also look for hands where MediaPipe Holistic's pose puts the wrists (finds small and
    # drawn hands the palm detector misses); costs ~15 ms CPU per image, ~65 ms with a person
    search_with_pose: bool = False


@functools.lru_cache(maxsize=1)
def _holistic_model():
    with loading_models(), native_stderr_silenced():
        mp = import_mediapipe()
        return mp.solutions.holistic.Holistic(static_image_mode=True, model_complexity=1)


def pose_hand_boxes(rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Boxes (x0, y0, x1, y1, pixels) of the hands MediaPipe Holistic re-crops from the
    pose's wrists."""
    h, w = rgb.shape[:2]
    with native_stderr_silenced():  # one span from creating the model to its answer (see detect_in)
        model = _holistic_model()
        # landmarks are relative to the image's sides: a shrunk copy needs no mapping back
        result = model.process(within_mediapipe_limit(np.ascontiguousarray(rgb, dtype=np.uint8))[0])
    boxes = []
    for lm in (result.left_hand_landmarks, result.right_hand_landmarks):
        if lm is None:
            continue
        pts = np.array([[p.x * w, p.y * h] for p in lm.landmark])
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        boxes.append((float(x0), float(y0), float(x1), float(y1)))
    return boxes


def detect_from_pose(rgb: np.ndarray, known: list[DetectedHand], upscale_to: int = 256) -> list[DetectedHand]:
    """Hands at the pose's wrists that no known hand covers, found again by MediaPipe Hands
    in an upscaled crop around each (so they come with 3D world landmarks like the rest)."""
    import cv2

    h, w = rgb.shape[:2]
    found = []
    for box in pose_hand_boxes(rgb):
        if any(_box_iou(box, k.bounds) >= 0.2 for k in known):
            continue
        size = max(box[2] - box[0], box[3] - box[1], 16.0)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        x0, y0 = int(max(0, cx - size)), int(max(0, cy - size))
        x1, y1 = int(min(w, cx + size)), int(min(h, cy + size))
        crop = rgb[y0:y1, x0:x1]
        if crop.size == 0:
            continue
        scale = max(1.0, upscale_to / max(crop.shape[:2]))
        if scale > 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        found += detect_in(crop, max_hands=1, source="pose", offset=(x0, y0), scale=scale)
    return found


def detect_hands(rgb: np.ndarray, plan: DetectionPlan = DetectionPlan()) -> list[DetectedHand]:
    """Hands in the full image, plus hands in upscaled tiles for large images and for
    drawings where the full view finds none (MediaPipe's palm detector sees the image at
    192x192, where small hands vanish)."""
    import cv2

    h, w = rgb.shape[:2]
    found = detect_in(rgb)
    tile = None
    if plan.search_tiles and min(h, w) >= plan.tile_min_side:
        tile = int(np.ceil(min(h, w) / (plan.tiles_per_side - 0.25 * (plan.tiles_per_side - 1))))
    elif plan.search_tiles and not found and min(h, w) >= plan.drawing_tile_min_side:
        from .style import looks_drawn

        if looks_drawn(rgb):
            tile = int(np.ceil(min(h, w) * plan.drawing_tile_share))
    if tile is not None:
        for x0, y0, x1, y1 in tile_boxes(w, h, tile):
            crop = rgb[y0:y1, x0:x1]
            scale = max(1.0, plan.tile_upscale_to / max(crop.shape[:2]))
            if scale > 1.0:
                crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            found += detect_in(crop, max_hands=2, source="tile", offset=(x0, y0), scale=scale)
    found = merge_hands(found)
    if plan.search_with_pose:
        found = merge_hands(found + detect_from_pose(rgb, found))
    return found


@dataclass(frozen=True)
class HandReport:
    """A detected hand with everything the rules decide on.

    ``signals`` (the hand's mask and skeleton measurements, ~75 ms of CPU a hand, mostly
    GrabCut) are computed when first read: a hand the profile does not judge (too small,
    too unsure) costs only its landmarks."""

    hand: DetectedHand
    box: Region
    extended: tuple[bool, ...]
    share_of_image: float  # hand size relative to the image's shorter side
    other_hand_overlap: float = 0.0  # share of its box another hand's box covers
    image: np.ndarray | None = field(default=None, repr=False, compare=False)  # the RGB image it was found in

    @property
    def extended_count(self) -> int:
        return int(sum(self.extended))

    @functools.cached_property
    def signals(self) -> dict[str, Any]:
        from .signals import hand_signals

        if self.image is None:
            raise ValueError("a HandReport without its image has no signals")
        signals = hand_signals(self.image, self.hand, self.extended)
        signals["hand_share"] = self.share_of_image
        signals["other_hand_overlap"] = self.other_hand_overlap
        return signals


@dataclass(frozen=True)
class HandAnalysis:
    hands: tuple[HandReport, ...]

    def measurements(self) -> dict[str, Any]:
        return {
            "hands_detected": len(self.hands),
            "extended_fingers_per_hand": [h.extended_count for h in self.hands],
        }  # time goes to the report's timings_ms, not here: measurements must repeat run to run


def hand_box(hand: DetectedHand, width: int, height: int, margin: float = 0.15) -> Region:
    x0, y0, x1, y1 = hand.bounds
    m = margin * hand.size
    return Region.from_bounds(x0 - m, y0 - m, x1 + m, y1 + m).clipped(width, height)


def analyse_hands(ctx, plan: DetectionPlan = DetectionPlan()) -> HandAnalysis:
    """The shared analysis: use as ``ctx.shared(analyse_hands, plan)``; rules asking with the
    same plan share one run."""
    analysis = analyse_rgb(ctx.rgb, plan)
    ctx.observe("hands", [
        {"side": h.hand.side, "extended_fingers": h.extended_count, "detection_score": round(h.hand.score, 3),
         "region": h.box.to_dict(), "hand_share": round(h.share_of_image, 4)}
        for h in analysis.hands
    ])
    return analysis


def analyse_rgb(rgb: np.ndarray, plan: DetectionPlan = DetectionPlan()) -> HandAnalysis:
    """Every hand in ``rgb`` with its landmarks and extended digits; each hand's signals are
    computed when a rule first reads them (``HandReport.signals``)."""
    from .lab import start_tables
    from .signals import overlap_with_other_hands

    start_tables()  # for the hand masks: filled on the other core while MediaPipe loads
    h, w = rgb.shape[:2]
    hands = detect_hands(rgb, plan)
    overlaps = overlap_with_other_hands([hand.bounds for hand in hands])
    reports = tuple(HandReport(hand, hand_box(hand, w, h), geo.extended_digits(hand.world),
                               round(hand.size / max(1, min(w, h)), 4), overlap, rgb)
                    for hand, overlap in zip(hands, overlaps))
    return HandAnalysis(reports)


def augment_hand(ctx, plan: DetectionPlan, index: int) -> dict:
    """Test-time augmentation of one analysed hand (``ctx.shared(augment_hand, plan, i)``):
    the landmark model run again on its mirrored, rotated and shrunk crop (tta_* signals).
    Four more MediaPipe runs (~90 ms CPU), so HAND001 asks only where they can matter."""
    from .signals import crop_hand, tta_runs, tta_summary

    report = ctx.shared(analyse_hands, plan).hands[index]
    crop = crop_hand(ctx.rgb, report.hand.points)
    return tta_summary(tta_runs(crop.image, crop.points), report.extended_count, report.hand.handedness)
