"""noticer's own loader for the PP-OCR models it ships (``rules/text/models``): text
detection, an optional angle classifier and line recognition, on numpy, OpenCV (mediapipe's
opencv-contrib-python) and ONNX Runtime only.

The models are those of the rapidocr-onnxruntime 1.4.4 wheel (PaddleOCR's PP-OCRv4 Chinese/
English detector and recogniser and its mobile v2.0 angle classifier, converted to ONNX by
the RapidOCR project; Apache-2.0, see ``models/NOTICE``). Shipping them as package data lets
``pip install noticer`` give the default text engine without RapidOCR, whose wheel requires
opencv-python: a second OpenCV distribution beside mediapipe's, both writing one ``cv2`` folder.
Each file's SHA-256 is checked when it is loaded.

What the networks expect and give (PP-OCR's published pre- and post-processing):

- detector (DB, "differentiable binarisation"): a BGR image resized so that both sides are
  multiples of 32, scaled to ``(pixel / 255 - 0.5) / 0.5``, as (1, 3, H, W); out comes a
  (1, 1, H, W) map of the probability that each pixel lies in a text line's shrunk core.
  The map is thresholded (0.3), dilated by 2x2, and each connected outline becomes the
  minimum-area rectangle around it; rectangles whose mean probability is below 0.5 or whose
  short side is under 3 px are dropped; the core is grown back by ``area * 1.6 / perimeter``
  (the DB paper's "unclip", a polygon offset with round corners, in integer pixels as the
  Clipper library computes it), and the grown rectangle scaled to the input's pixels.
- recogniser (SVTR-LCNet with a CTC head): each line crop resized to 48 px high (its width
  in proportion, at most that of the widest crop of its batch of six, the rest zero-padded),
  scaled as above; out come per time step the probabilities of 6625 classes: the CTC blank,
  the 6623 characters listed in the model's ``character`` metadata, and a space. Greedy
  decoding takes the best class per step, drops repeats and blanks; the line's confidence
  is the mean probability of the characters kept. Each character's time step, as a share of
  the crop's width, places its box on the line.
- angle classifier: crops 48 x 192 (scaled as the recogniser's); out come the probabilities
  of "upright" and "upside down"; a crop upside down with probability above 0.9 is turned.

The engine is not thread-safe: one per process (the rules' workers each load one).
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODEL_DIR = Path(__file__).resolve().parent / "models"
MODEL_FILES = {
    "det": "ch_PP-OCRv4_det_infer.onnx",
    "rec": "ch_PP-OCRv4_rec_infer.onnx",
    "cls": "ch_ppocr_mobile_v2.0_cls_infer.onnx",
}
# the files as in the rapidocr-onnxruntime 1.4.4 wheel (rapidocr_onnxruntime/models/)
MODEL_SHA256 = {
    "det": "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    "rec": "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
    "cls": "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
}

# detector post-processing (PP-OCR's defaults for this detector)
DET_THRESHOLD = 0.3  # probability map -> text pixels
DET_BOX_THRESHOLD = 0.5  # a candidate's mean probability must reach this
DET_MAX_CANDIDATES = 1000
DET_UNCLIP_RATIO = 1.6
DET_MIN_SIZE = 3  # short side of a candidate, in map pixels
DET_STRIDE = 32
# recogniser
REC_HEIGHT = 48
REC_MIN_WIDTH = 320  # a batch is at least this wide (the model's nominal input)
REC_BATCH = 6
# angle classifier
CLS_SHAPE = (48, 192)
CLS_BATCH = 6
CLS_THRESHOLD = 0.9


class ModelFileError(RuntimeError):
    """A shipped model file is missing or not the one noticer was released with."""


def model_path(name: str) -> Path:
    return MODEL_DIR / MODEL_FILES[name]


def verify_model(name: str) -> Path:
    """The model file ``name`` (det, rec or cls), checked against MODEL_SHA256."""
    path = model_path(name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"noticer's OCR model {path} cannot be read ({exc.strerror or exc}): "
                             "reinstall noticer") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != MODEL_SHA256[name]:
        raise ModelFileError(f"noticer's OCR model {path} is damaged or not the one shipped "
                             f"(sha256 {digest[:16]}..., expected {MODEL_SHA256[name][:16]}...): reinstall noticer")
    return path


def models_present() -> bool:
    """Whether the detector's and recogniser's files are there (not hashed: see verify_model)."""
    return all(model_path(name).is_file() for name in ("det", "rec"))


def new_session(path: Path | str, threads: int = 1):
    """An ONNX Runtime CPU session with ``threads`` threads, no memory arena (its pools grew
    with the largest input ever seen) and all graph optimisations.

    OpenVINO 2026.4 (one thread, f32) was measured in its place on the detector's and
    recogniser's inputs of the bench.speed folder (2026-12-08): with the inputs' varying
    shapes 1.24-1.29 times ONNX Runtime's CPU time for the detector and 1.57-1.77 for the
    recogniser; compiled for one fixed 736 x 736 shape, the same time (149-157 ms against
    151-160). It would add ~180 MB to the installation for no gain."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.enable_cpu_mem_arena = False
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads > 0:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _run(session, batch: np.ndarray) -> np.ndarray:
    return session.run(None, {session.get_inputs()[0].name: batch})[0]


# ---------------------------------------------------------------------------- detection

def stride_size(height: int, width: int, limit: int) -> tuple[int, int]:
    """(height, width) the detector is given: the image shrunk so its longest side is at most
    ``limit``, then each side rounded to a multiple of 32 (Python's rounding: halves to even)."""
    ratio = limit / float(max(height, width)) if max(height, width) > limit else 1.0
    return (int(round(int(height * ratio) / DET_STRIDE) * DET_STRIDE),
            int(round(int(width * ratio) / DET_STRIDE) * DET_STRIDE))


def detector_input(bgr: np.ndarray, limit: int) -> np.ndarray | None:
    """(1, 3, H, W) float32 input for ``bgr`` (None when a side would round to 0): resized by
    ``stride_size``, scaled to ``(pixel / 255 - 0.5) / 0.5`` in one OpenCV pass."""
    import cv2

    h, w = stride_size(bgr.shape[0], bgr.shape[1], limit)
    if h <= 0 or w <= 0:
        return None
    return cv2.dnn.blobFromImage(cv2.resize(bgr, (w, h)), 1 / 127.5, mean=(127.5, 127.5, 127.5))


def rectangle_corners(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The minimum-area rectangle around ``points`` as its four corners (float32, in the order
    top-left, top-right, bottom-right, bottom-left: the two with the smallest x are the left
    ones, the higher of each pair its top; on equal heights the later of the pair) and its
    shorter side."""
    import cv2

    rect = cv2.minAreaRect(points)
    corners = sorted(list(cv2.boxPoints(rect)), key=lambda p: p[0])  # stable, by x only
    left = (corners[0], corners[1]) if corners[1][1] > corners[0][1] else (corners[1], corners[0])
    right = (corners[2], corners[3]) if corners[3][1] > corners[2][1] else (corners[3], corners[2])
    return np.array([left[0], right[0], right[1], left[1]]), min(rect[1])


def mean_inside(prob: np.ndarray, corners: np.ndarray) -> float:
    """Mean of ``prob`` over the quadrilateral ``corners`` (filled at integer pixels)."""
    import cv2

    h, w = prob.shape
    x0 = int(np.clip(np.floor(corners[:, 0].min()), 0, w - 1))
    x1 = int(np.clip(np.ceil(corners[:, 0].max()), 0, w - 1))
    y0 = int(np.clip(np.floor(corners[:, 1].min()), 0, h - 1))
    y1 = int(np.clip(np.ceil(corners[:, 1].max()), 0, h - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    shifted = corners - np.array([x0, y0], dtype=corners.dtype)
    cv2.fillPoly(mask, shifted.reshape(1, -1, 2).astype(np.int32), 1)
    return cv2.mean(prob[y0:y1 + 1, x0:x1 + 1], mask)[0]


def _round_half_away(value: float) -> int:
    return int(value - 0.5) if value < 0 else int(value + 0.5)


ARC_TOLERANCE = 0.25  # the largest distance of an arc's chords from the true circle, in pixels


def offset_polygon(points: np.ndarray, distance: float) -> np.ndarray:
    """The convex polygon ``points`` grown outwards by ``distance`` with round corners, as
    integer points: the coordinates are first truncated to integers, each edge is moved out
    along its normal, and each corner gets an arc of chords within ARC_TOLERANCE of the
    circle, every point rounded half away from zero (the Clipper library's offset, which PP-OCR
    uses; the result's convex hull is the same, so its minimum-area rectangle is)."""
    pts = [(float(int(x)), float(int(y))) for x, y in np.asarray(points, dtype=np.float64).reshape(-1, 2)]
    pts = [p for i, p in enumerate(pts) if p != pts[i - 1]] if len(pts) > 1 else pts
    if len(pts) < 3 or distance <= 0:
        return np.array(pts, dtype=np.int32)
    doubled_area = sum(pts[i - 1][0] * pts[i][1] - pts[i][0] * pts[i - 1][1] for i in range(len(pts)))
    if doubled_area < 0:  # walk the outline so that each edge's outer side is on its left normal
        pts.reverse()
    n = len(pts)
    normals = []
    for i in range(n):
        dx, dy = pts[(i + 1) % n][0] - pts[i][0], pts[(i + 1) % n][1] - pts[i][1]
        length = math.hypot(dx, dy)
        normals.append((dy / length, -dx / length))
    tolerance = min(ARC_TOLERANCE, distance * ARC_TOLERANCE)
    steps_full = min(math.pi / math.acos(1 - tolerance / distance), distance * math.pi)
    step_sin, step_cos = math.sin(2 * math.pi / steps_full), math.cos(2 * math.pi / steps_full)
    steps_per_radian = steps_full / (2 * math.pi)
    out: list[tuple[int, int]] = []

    def emit(x: float, y: float) -> None:
        out.append((_round_half_away(x), _round_half_away(y)))

    for j in range(n):
        (px, py), (ax, ay), (bx, by) = pts[j], normals[j - 1], normals[j]
        turn = max(-1.0, min(1.0, ax * by - bx * ay))
        dot = ax * bx + ay * by
        if abs(turn * distance) < 1.0 and dot > 0:  # nearly straight on: one point
            emit(px + ax * distance, py + ay * distance)
            continue
        if turn * distance < 0:  # a concave corner
            emit(px + ax * distance, py + ay * distance)
            emit(px, py)
            emit(px + bx * distance, py + by * distance)
            continue
        count = max(_round_half_away(steps_per_radian * abs(math.atan2(turn, dot))), 1)
        x, y = ax, ay
        for _ in range(count):
            emit(px + x * distance, py + y * distance)
            x, y = x * step_cos - step_sin * y, x * step_sin + y * step_cos
        emit(px + bx * distance, py + by * distance)
    return np.array(_clipper_order(out), dtype=np.int32)


def _clipper_order(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The outline as Clipper returns it: repeated points and points on a straight line
    between their neighbours left out, starting after the topmost point (the rightmost of
    several). The order matters: OpenCV's minimum-area rectangle of a rounded rectangle can
    come out turned by 90 degrees (the same rectangle, its corners a float rounding apart)
    depending on where the outline starts."""
    pts = list(points)
    changed = True
    while changed and len(pts) > 2:
        changed = False
        for i in range(len(pts)):
            (ax, ay), (bx, by), (cx, cy) = pts[i - 1], pts[i], pts[(i + 1) % len(pts)]
            if (ax, ay) == (bx, by) or (bx - ax) * (cy - by) == (by - ay) * (cx - bx):
                del pts[i]
                changed = True
                break
    if not pts:
        return pts
    top = min(range(len(pts)), key=lambda i: (pts[i][1], -pts[i][0]))
    return pts[top + 1:] + pts[:top + 1]


def grow_core(corners: np.ndarray, ratio: float = DET_UNCLIP_RATIO) -> np.ndarray:
    """A DB text core (four corners) grown back to the whole line: offset by
    ``area * ratio / perimeter``."""
    pts = np.asarray(corners, dtype=np.float64).reshape(-1, 2)
    x, y = pts[:, 0], pts[:, 1]
    area = abs(float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))) / 2
    perimeter = float(np.linalg.norm(pts - np.roll(pts, -1, axis=0), axis=1).sum())
    return offset_polygon(corners, area * ratio / perimeter)


def boxes_from_map(prob: np.ndarray, width: int, height: int) -> np.ndarray:
    """Line quadrilaterals (N x 4 x 2, int32, in pixels of an image ``width`` x ``height``)
    from the detector's probability map (H x W)."""
    import cv2

    mask = cv2.dilate((prob > DET_THRESHOLD).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    map_h, map_w = prob.shape
    boxes = []
    for contour in contours[:DET_MAX_CANDIDATES]:
        core, short = rectangle_corners(contour)
        if short < DET_MIN_SIZE or mean_inside(prob, core) < DET_BOX_THRESHOLD:
            continue
        grown, short = rectangle_corners(grow_core(core).reshape(-1, 1, 2))
        if short < DET_MIN_SIZE + 2:
            continue
        grown[:, 0] = np.clip(np.round(grown[:, 0] / map_w * width), 0, width)
        grown[:, 1] = np.clip(np.round(grown[:, 1] / map_h * height), 0, height)
        boxes.append(grown.astype(np.int32))
    return np.array(boxes, dtype=np.int32)


def clockwise(quad: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left (float32): the two leftmost
    are the left side, each side's top the one with the smaller y."""
    by_x = quad[np.argsort(quad[:, 0]), :]
    left, right = by_x[:2], by_x[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1]), :]
    top_right, bottom_right = right[np.argsort(right[:, 1]), :]
    return np.array([top_left, top_right, bottom_right, bottom_left], dtype=np.float32)


def tidy_boxes(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Boxes in clockwise order, corners moved inside the image (whole pixels), those
    3 px or less across dropped."""
    kept = []
    for box in boxes:
        quad = clockwise(box)
        quad[:, 0] = [int(min(max(v, 0), width - 1)) for v in quad[:, 0]]
        quad[:, 1] = [int(min(max(v, 0), height - 1)) for v in quad[:, 1]]
        if int(np.linalg.norm(quad[0] - quad[1])) <= 3 or int(np.linalg.norm(quad[0] - quad[3])) <= 3:
            continue
        kept.append(quad)
    return np.array(kept)


class Detector:
    """The DB text detector. Calling it on a BGR image gives (quadrilaterals N x 4 x 2 in
    the image's pixels, float32, or None when the image is too small to search; seconds)."""

    def __init__(self, session) -> None:
        self.session = session
        self.limit_side_len = 960  # longest side searched (rules/text/rapid.py sets it per call)

    def __call__(self, bgr: np.ndarray) -> tuple[np.ndarray | None, float]:
        start = time.perf_counter()
        blob = detector_input(bgr, self.limit_side_len)
        if blob is None:
            return None, 0.0
        prob = _run(self.session, blob)[0, 0]
        boxes = tidy_boxes(boxes_from_map(prob, bgr.shape[1], bgr.shape[0]), bgr.shape[0], bgr.shape[1])
        return boxes, time.perf_counter() - start


def reading_order(quads) -> list[np.ndarray]:
    """Quads top to bottom by their first corner, then, among neighbours whose tops are less
    than 10 px apart, left to right."""
    ordered = sorted(quads, key=lambda q: (q[0][1], q[0][0]))
    for i in range(len(ordered) - 1):
        j = i
        while j >= 0 and abs(ordered[j + 1][0][1] - ordered[j][0][1]) < 10 and ordered[j + 1][0][0] < ordered[j][0][0]:
            ordered[j], ordered[j + 1] = ordered[j + 1], ordered[j]
            j -= 1
    return ordered


def crop_line(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The quadrilateral ``quad`` (tl, tr, br, bl) cut out of ``image`` and straightened to
    its longer sides' length (bicubic, edges replicated); a crop 1.5 times taller than wide
    (vertical lettering) is turned a quarter counter-clockwise."""
    import cv2

    quad = np.asarray(quad, dtype=np.float32)
    width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    crop = cv2.warpPerspective(image, cv2.getPerspectiveTransform(quad, target), (width, height),
                               borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    if crop.shape[0] * 1.0 / crop.shape[1] >= 1.5:
        crop = np.rot90(crop)
    return crop


# ---------------------------------------------------------------------------- recognition

def _scaled_chw(bgr: np.ndarray, width: int, height: int, padded_width: int) -> np.ndarray:
    """(3, height, padded_width) float32: ``bgr`` resized to width x height and scaled to
    ``(pixel / 255 - 0.5) / 0.5``, zeros to the right."""
    import cv2

    resized = cv2.resize(bgr, (width, height)).astype(np.float32).transpose((2, 0, 1)) / 255
    resized -= 0.5
    resized /= 0.5
    out = np.zeros((3, height, padded_width), dtype=np.float32)
    out[:, :, :width] = resized
    return out


@dataclass
class LineReading:
    """What the recogniser read on one crop: the text, its confidence, and per character
    (spaces included) its box on the crop's image (four corners), its text and probability."""

    text: str
    confidence: float
    char_boxes: list = None
    char_texts: list = None
    char_confidences: list = None


@dataclass
class _Decoded:
    text: str
    confidence: float
    columns: list  # time step of each character of text
    probabilities: list  # its probability
    steps: float  # time steps the crop itself spans (the rest of the batch is padding)


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


class Recogniser:
    """The CTC line recogniser; its character list is the model's ``character`` metadata."""

    def __init__(self, session) -> None:
        self.session = session
        listed = session.get_modelmeta().custom_metadata_map["character"].splitlines()
        self.characters = ["<blank>"] + listed + [" "]
        classes = session.get_outputs()[0].shape[-1]
        if isinstance(classes, int) and classes != len(self.characters):
            raise ModelFileError(f"the recogniser has {classes} classes for {len(self.characters)} characters")

    def decode(self, probs: np.ndarray, share: float) -> _Decoded:
        """Greedy CTC decoding of one crop's (T, classes) probabilities; ``share``: the crop's
        part of the batch's width."""
        best = probs.argmax(axis=1)
        best_p = probs.max(axis=1)
        keep = np.ones(len(best), dtype=bool)
        keep[1:] = best[1:] != best[:-1]
        keep &= best != 0
        columns = np.nonzero(keep)[0]
        kept_p = best_p[keep].tolist()
        text = "".join(self.characters[i] for i in best[keep])
        confidence = float(np.mean(kept_p)) if kept_p else 0.0
        return _Decoded(text, confidence, [int(c) for c in columns], kept_p, len(best) * share)

    def read(self, crops: list[np.ndarray]) -> list[_Decoded]:
        """Decoded readings of BGR line crops, in their order. Crops go in batches of six
        by aspect ratio (similar widths pad little)."""
        ratios = [crop.shape[1] / float(crop.shape[0]) for crop in crops]
        order = np.argsort(np.array(ratios))
        results: list[_Decoded | None] = [None] * len(crops)
        for start in range(0, len(crops), REC_BATCH):
            members = order[start:start + REC_BATCH]
            widest = max([REC_MIN_WIDTH / REC_HEIGHT] + [ratios[k] for k in members])
            padded = int(REC_HEIGHT * widest)
            batch = []
            for k in members:
                width = min(padded, int(math.ceil(REC_HEIGHT * ratios[k])))
                batch.append(_scaled_chw(crops[k], width, REC_HEIGHT, padded)[np.newaxis])
            probs = _run(self.session, np.concatenate(batch).astype(np.float32))
            for row, k in enumerate(members):
                results[k] = self.decode(probs[row], ratios[k] / widest)
        return results


def _words(decoded: _Decoded) -> list[tuple[bool, list[int]]]:
    """The characters of a reading grouped as PP-OCR groups them: (CJK?, indices into text).
    A group ends where the script changes (CJK or not) or more than 4 time steps separate
    two characters (the first counts from step 0, by at most 2, 3 for CJK)."""
    text, columns = decoded.text, decoded.columns
    groups: list[tuple[bool, list[int]]] = []
    for i, char in enumerate(text):
        cjk = _is_cjk(char)
        gap = columns[i] - columns[i - 1] if i else min(3 if _is_cjk(text[0]) else 2, columns[0])
        if not groups or groups[-1][0] != cjk or gap > 4:
            groups.append((cjk, []))
        groups[-1][1].append(i)
    return groups


def char_boxes_on_crop(decoded: _Decoded, width: int, height: int) -> list[list[list[float]]]:
    """One box per character of the reading on a crop ``width`` x ``height`` (four corners,
    sorted by left edge): centred on the character's time step, as wide as the mean spacing
    of the characters in words of its kind (CJK or not), or the crop's width over the text's
    length; boxes that overlap meet halfway."""
    step_width = width / decoded.steps
    boxes = []
    for cjk in (True, False):
        groups = [members for kind, members in _words(decoded) if kind == cjk]
        spans = [(decoded.columns[m[-1]] - decoded.columns[m[0]]) * step_width / (len(m) - 1)
                 for m in groups if len(m) > 1]
        char_width = float(np.mean(spans)) if spans else width / len(decoded.text)
        for members in groups:
            for i in members:
                centre = (decoded.columns[i] + 0.5) * step_width
                x0 = max(int(centre - char_width / 2), 0)
                x1 = min(int(centre + char_width / 2), width)
                boxes.append([[x0, 0], [x1, 0], [x1, height], [x0, height]])
    boxes.sort(key=lambda b: b[0][0])
    for cur, nxt in zip(boxes, boxes[1:]):
        if cur[1][0] > nxt[0][0]:
            overlap = abs(cur[1][0] - nxt[0][0])
            cur[1][0] -= overlap / 2
            cur[2][0] -= overlap / 2
            nxt[0][0] += overlap - overlap / 2
            nxt[3][0] += overlap - overlap / 2
    return boxes


def _corner_picks(points: np.ndarray) -> np.ndarray:
    """The corners of a mapped character box as PP-OCR's word boxes keep them: by where each
    point lies from the points' mean (left/right, or above/below when two share the mean x),
    each side's extreme ones; a point neither picked is left out."""
    cx, cy = points[:, 0].mean(), points[:, 1].mean()
    xs, ys = points[:, 0], points[:, 1]

    def first(rows):
        return [rows[0]] if len(rows) else []

    if np.any(xs == cx) and np.any(ys == cy):
        picks = (first(points[xs == xs.min()]) + first(points[ys == ys.min()])
                 + first(points[xs == xs.max()]) + first(points[ys == ys.max()]))
    elif np.all(xs == cx):
        picks = list(points)
    elif np.any(xs == cx) and np.all(ys != cy):
        upper, lower = points[ys < cy], points[ys > cy]
        picks = []
        for group, order in ((upper, (min, max)), (lower, (max, min))):
            if len(group):
                picks += [first(group[group[:, 0] == pick(group[:, 0])])[0] for pick in order]
    else:
        lefts, rights = points[xs < cx], points[xs > cx]
        picks = []
        for group in (lefts, rights):
            if len(group):
                picks += [first(group[group[:, 1] == pick(group[:, 1])])[0] for pick in (min, max)]
    return np.array(picks).reshape(-1, 2)


def boxes_to_image(quad: np.ndarray, boxes: list, crop_width: int, crop_height: int, turned: bool) -> list:
    """Character boxes on a crop mapped back to the image through the inverse of the
    quadrilateral's straightening (whole pixels, truncated), each as the corners kept by
    ``_corner_picks``. ``turned``: the crop was turned a quarter (vertical lettering)."""
    import cv2

    quad = np.array(quad, dtype=np.float32)  # a copy: the caller's quad stays as it is
    left, top = int(np.min(quad[:, 0])), int(np.min(quad[:, 1]))
    quad[:, 0] -= left
    quad[:, 1] -= top
    width, height = int(np.linalg.norm(quad[0] - quad[1])), int(np.linalg.norm(quad[0] - quad[3]))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    _, inverse = cv2.invert(cv2.getPerspectiveTransform(quad, target))
    angle = math.radians(-90)
    mapped = []
    for box in boxes:
        points = []
        for x, y in box:
            if turned:  # undo the quarter turn: (x, y) -> (width - y, x), with the float rounding of a rotation
                x, y = x * math.cos(angle) + y * math.sin(angle), y * math.cos(angle) - x * math.sin(angle)
                x = x + width
            px, py, pz = np.dot(inverse, np.float32([x, y, 1]))
            points.append([int(px / pz + left), int(py / pz + top)])
        mapped.append(_corner_picks(np.array(points)).tolist())
    return mapped


def _turned(quad: np.ndarray) -> bool:
    """Whether the crop of ``quad`` is turned a quarter (1.5 times taller than wide)."""
    width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    return height * 1.0 / width >= 1.5


# ---------------------------------------------------------------------------- angle

class AngleClassifier:
    """Upright or upside down, per line crop (PP-OCR's mobile v2.0 classifier)."""

    def __init__(self, session) -> None:
        self.session = session

    def __call__(self, crops: list[np.ndarray]) -> tuple[list[np.ndarray], list[tuple[str, float]]]:
        """(the crops, those upside down turned; per crop its label, "0" or "180", and probability)."""
        import cv2

        height, width = CLS_SHAPE
        out, labels = list(crops), []
        for start in range(0, len(crops), CLS_BATCH):
            batch = []
            for crop in crops[start:start + CLS_BATCH]:
                w = min(width, int(math.ceil(height * crop.shape[1] / float(crop.shape[0]))))
                batch.append(_scaled_chw(crop, w, height, width)[np.newaxis])
            probs = _run(self.session, np.concatenate(batch))
            for row, p in enumerate(probs):
                k = int(np.argmax(p))
                labels.append(("0", "180")[k] if k < 2 else str(k))
                labels[-1] = (labels[-1], float(p[k]))
                if labels[-1][0] == "180" and p[k] > CLS_THRESHOLD:
                    out[start + row] = cv2.rotate(out[start + row], cv2.ROTATE_180)
        return out, labels


# ---------------------------------------------------------------------------- engine

class PPOCR:
    """The shipped models, loaded (and their files checked) once. ``text_det`` is the
    Detector; ``read`` recognises line crops; ``classify`` (loaded on first use) turns
    upside-down crops."""

    def __init__(self, threads: int = 1, sessions: dict | None = None) -> None:
        sessions = sessions or {}
        self.threads = threads
        self.text_det = Detector(sessions.get("det") or new_session(verify_model("det"), threads))
        self.recogniser = Recogniser(sessions.get("rec") or new_session(verify_model("rec"), threads))
        self._classifier: AngleClassifier | None = None

    @staticmethod
    def sorted_boxes(quads) -> list[np.ndarray]:
        return reading_order(quads)

    @staticmethod
    def crops(image: np.ndarray, quads) -> list[np.ndarray]:
        return [crop_line(image, q) for q in quads]

    def classify(self, crops: list[np.ndarray]) -> tuple[list[np.ndarray], list[tuple[str, float]]]:
        if self._classifier is None:
            self._classifier = AngleClassifier(new_session(verify_model("cls"), self.threads))
        return self._classifier(crops)

    def read(self, crops: list[np.ndarray], quads=None) -> list[LineReading]:
        """The text of each BGR line crop; with ``quads`` (the crops' quadrilaterals in the
        image) also each character's box in the image."""
        readings = []
        for k, decoded in enumerate(self.recogniser.read(crops)):
            reading = LineReading(decoded.text, decoded.confidence)
            if quads is not None and decoded.text:
                h, w = crops[k].shape[:2]
                on_crop = char_boxes_on_crop(decoded, w, h)
                reading.char_boxes = boxes_to_image(quads[k], on_crop, w, h, _turned(np.asarray(quads[k])))
                reading.char_texts = list(decoded.text)
                reading.char_confidences = list(decoded.probabilities)
            readings.append(reading)
        return readings
