"""Pure geometry on MediaPipe's 21 hand landmarks: which digits are held out, joint angles,
bone proportions, thumb side and digits crossing each other.

Everything takes numpy arrays (21x2 image points or 21x3 world points in metres) so it can be
tested on hand-made skeletons without MediaPipe.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WRIST = 0
DIGIT_NAMES = ("thumb", "index", "middle", "ring", "pinky")
# landmark indices of each digit from its base to its tip
DIGIT_CHAINS = (
    (1, 2, 3, 4),
    (5, 6, 7, 8),
    (9, 10, 11, 12),
    (13, 14, 15, 16),
    (17, 18, 19, 20),
)
FINGER_BASES = (5, 9, 13, 17)
# bones drawn by MediaPipe: digit chains, wrist to digit bases, and the knuckle line
BONES = tuple(
    [(WRIST, 1), (WRIST, 5), (WRIST, 17), (5, 9), (9, 13), (13, 17)]
    + [(c[i], c[i + 1]) for c in DIGIT_CHAINS for i in range(3)]
)

# Typical bone lengths relative to the palm length (wrist to middle knuckle), from hand
# anthropometry (phalanx lengths of adults, e.g. Buryanov & Kotiuk 2010), rounded: human
# hands vary by about +-25% around these.
TYPICAL_PHALANX_RATIO = {
    "thumb": (0.42, 0.33, 0.27),
    "index": (0.46, 0.27, 0.20),
    "middle": (0.50, 0.31, 0.21),
    "ring": (0.46, 0.30, 0.21),
    "pinky": (0.37, 0.21, 0.19),
}


def _angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu < 1e-9 or nv < 1e-9:
        return 0.0
    c = float(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0))
    return float(np.degrees(np.arccos(c)))


def digit_bend_deg(points: np.ndarray, digit: int) -> tuple[float, float, float]:
    """Bend in degrees at the three joints of a digit (0 = straight): for fingers MCP, PIP,
    DIP; for the thumb CMC->MCP, MCP, IP. The MCP bend of a finger is measured against the
    palm direction (wrist to that knuckle)."""
    a, b, c, d = DIGIT_CHAINS[digit]
    p = np.asarray(points, dtype=float)
    base_dir = p[a] - p[WRIST]
    return (
        _angle_deg(base_dir, p[b] - p[a]),
        _angle_deg(p[b] - p[a], p[c] - p[b]),
        _angle_deg(p[c] - p[b], p[d] - p[c]),
    )


@dataclass(frozen=True)
class ExtensionThresholds:
    # a finger is held out when its tip is this much farther from the wrist than its PIP joint
    finger_min_reach: float = 1.15
    # a thumb is held out when its MCP and IP joints together bend at most this much (degrees)
    thumb_max_bend: float = 46.0
    # ... and its tip is at least this far from the middle knuckle (in knuckle-line widths),
    # so a straight thumb laid across the palm does not count
    thumb_min_reach: float = 0.5


def extended_digits(world: np.ndarray, thresholds: ExtensionThresholds = ExtensionThresholds()) -> tuple[bool, ...]:
    """Which of the five digits are held out, from 3D world landmarks (metres)."""
    w = np.asarray(world, dtype=float)
    knuckle_width = max(float(np.linalg.norm(w[5] - w[17])), 1e-6)
    _, mcp, ip = digit_bend_deg(w, 0)
    thumb_reach = float(np.linalg.norm(w[4] - w[9])) / knuckle_width
    out = [bool(mcp + ip <= thresholds.thumb_max_bend and thumb_reach >= thresholds.thumb_min_reach)]
    for chain in DIGIT_CHAINS[1:]:
        reach = np.linalg.norm(w[chain[3]] - w[WRIST]) / max(float(np.linalg.norm(w[chain[1]] - w[WRIST])), 1e-9)
        out.append(bool(reach >= thresholds.finger_min_reach))
    return tuple(out)


def palm_normal(world: np.ndarray) -> np.ndarray:
    """Unit normal of the palm plane (wrist, index knuckle, pinky knuckle); its sign is arbitrary."""
    w = np.asarray(world, dtype=float)
    n = np.cross(w[5] - w[WRIST], w[17] - w[WRIST])
    return n / max(float(np.linalg.norm(n)), 1e-9)


def signed_flexion_deg(world: np.ndarray) -> np.ndarray:
    """5x3 signed bends of every joint: positive towards the palm side, negative backwards.

    A bend's sign is its turning direction about the hand's side-to-side axis (index
    knuckle to pinky knuckle), the axis fingers flex about. Which direction is "towards the
    palm" is taken from the summed bends of the four fingers, since hands curl far more than
    they bend back: only joints bent against the rest of the hand come out negative."""
    w = np.asarray(world, dtype=float)
    side = w[17] - w[5]
    side = side / max(float(np.linalg.norm(side)), 1e-9)
    raw = np.zeros((5, 3))
    for digit, chain in enumerate(DIGIT_CHAINS):
        pts = [w[WRIST]] + [w[i] for i in chain]
        for j in range(3):
            u = pts[j + 1] - pts[j]
            v = pts[j + 2] - pts[j + 1]
            ang = _angle_deg(u, v)
            raw[digit, j] = ang if float(np.dot(np.cross(u, v), side)) >= 0 else -ang
    if raw[1:, :].sum() < 0:
        raw = -raw
    return raw


def lateral_bend_deg(world: np.ndarray) -> np.ndarray:
    """4x2 sideways bends (degrees) at PIP and DIP of the four fingers: hinge joints that hardly
    move sideways in a real hand."""
    w = np.asarray(world, dtype=float)
    out = np.zeros((4, 2))
    n = palm_normal(w)
    for k, chain in enumerate(DIGIT_CHAINS[1:]):
        a, b, c, d = (w[i] for i in chain)
        # the plane a finger flexes in contains the proximal bone and the palm normal
        for j, (u, v) in enumerate(((b - a, c - b), (c - b, d - c))):
            axis = np.cross(u, n)  # normal of the flexion plane
            axis /= max(float(np.linalg.norm(axis)), 1e-9)
            nv = max(float(np.linalg.norm(v)), 1e-9)
            out[k, j] = float(np.degrees(np.arcsin(np.clip(abs(np.dot(v, axis)) / nv, 0, 1))))
    return out


def phalanx_ratios(world: np.ndarray) -> np.ndarray:
    """5x3 phalanx lengths divided by the typical length for that phalanx (1.0 = typical),
    with the palm length (wrist to middle knuckle) as the unit."""
    w = np.asarray(world, dtype=float)
    palm = max(float(np.linalg.norm(w[9] - w[WRIST])), 1e-9)
    out = np.zeros((5, 3))
    for digit, chain in enumerate(DIGIT_CHAINS):
        typical = TYPICAL_PHALANX_RATIO[DIGIT_NAMES[digit]]
        for j in range(3):
            out[digit, j] = np.linalg.norm(w[chain[j + 1]] - w[chain[j]]) / palm / typical[j]
    return out


def thumb_side_ratio(points: np.ndarray) -> float:
    """Distance of the thumb's MCP from the index knuckle divided by its distance from the
    pinky knuckle. Real hands are well below 1; above 1 the thumb sits on the pinky side."""
    p = np.asarray(points, dtype=float)
    d_index = float(np.linalg.norm(p[2] - p[5]))
    d_pinky = float(np.linalg.norm(p[2] - p[17]))
    return d_index / max(d_pinky, 1e-9)


def _segments_intersect(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    o1, o2 = orient(p1, p2, q1), orient(p1, p2, q2)
    o3, o4 = orient(q1, q2, p1), orient(q1, q2, p2)
    return (o1 * o2 < 0) and (o3 * o4 < 0)


def _segment_distance_3d(p1, p2, q1, q2, samples: int = 9) -> float:
    t = np.linspace(0, 1, samples)[:, None]
    a = p1 + t * (p2 - p1)
    b = q1 + t * (q2 - q1)
    return float(np.min(np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)))


def crossing_digit_pairs(points: np.ndarray, world: np.ndarray, min_depth_gap: float = 0.008) -> list[tuple[int, int]]:
    """Pairs of fingers (not the thumb, whose crossing over the palm is normal) whose bones
    cross in the image while the 3D skeleton puts them closer than `min_depth_gap` metres:
    digits drawn through each other."""
    p = np.asarray(points, dtype=float)
    w = np.asarray(world, dtype=float)
    found = []
    for a in range(1, 5):
        for b in range(a + 1, 5):
            ca, cb = DIGIT_CHAINS[a], DIGIT_CHAINS[b]
            hit = False
            for i in range(1, 3):  # the two outer bones (PIP-DIP, DIP-TIP) and PIP
                for j in range(1, 3):
                    if _segments_intersect(p[ca[i]], p[ca[i + 1]], p[cb[j]], p[cb[j + 1]]):
                        if _segment_distance_3d(w[ca[i]], w[ca[i + 1]], w[cb[j]], w[cb[j + 1]]) < min_depth_gap:
                            hit = True
            if hit:
                found.append((a, b))
    return found
