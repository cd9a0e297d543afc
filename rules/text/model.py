"""Faster ONNX graphs for RapidOCR's PP-OCRv4 detector and recogniser, with the same outputs.

Both networks (PP-LCNetV3 backbones, exported from Paddle) follow most convolutions with a
"learnable affine block" and a hard-swish written out as four element-wise operators:

    z = s * conv(x) + t                       (Mul and Add by scalar constants)
    y = z * clip(z + 3, 0, 6) / 6              (Add, Clip, Mul, Div)
    out = a * y + b                            (Mul and Add by scalar constants)

ONNX Runtime does not fold these itself: the scalars are ``Constant`` nodes given as the
*first* input of each ``Mul``, which its Conv-Mul fusion does not look for. Each of these
operators is a full pass over a feature map; on this machine they took 35-40% of the
detector's time at 320 px (profiled: Conv 43%, Mul 15%, Add 15%, Div 4%, Clip 2%).

``fold_affine_activations`` rewrites the graph, the same up to float rounding:
- ``s * conv(x) + t`` becomes one convolution with weights ``s*W`` and bias ``s*B + t``;
- the hard-swish becomes ``z * HardSigmoid(z)`` (alpha 1/6, beta 1/2: ``clip(z/6 + 1/2, 0, 1)``
  is ``clip(z + 3, 0, 6) / 6``), two operators instead of four, in the model's own opset;
- ``a * y + b`` feeding only 1x1 convolutions without padding becomes part of their weights
  (``W*a``, bias ``B + b * sum(W)``); before a padded convolution, whose padding's zeros
  are not shifted by ``b``, it becomes a 1x1 convolution per channel (weights ``a``, bias
  ``b``): ONNX Runtime runs convolutions in a blocked channel layout and scalar Mul and Add
  in the plain one, so each such pair cost two layout conversions besides its own passes.

Measured on one core (1024-px corpus images): the 320-px detection went from 20 to 14 ms
median, and the OCR of images with text from 320 to about 205 ms median, reading the same
text on every corpus image; the per-channel convolutions then took it to 186 ms (the
recogniser, on a batch of six lines, from 94 to 78 ms), again with the same text and boxes. ``optimised_session`` checks the rewritten graph against the
original on a probe image of rendered text and keeps the original when they differ, when
the probe tells nothing (the original's output does not vary over it) or the rewrite fails.

The rewritten graphs are kept in the user's cache folder (``$XDG_CACHE_HOME/noticer/models``,
else ``~/.cache/noticer/models``; ``NOTICER_MODEL_CACHE`` overrides it), keyed by the source
model's content (its SHA-256, which ``rules/text/ppocr.py`` checks on load), this module's
code and the ONNX Runtime version, so every checkout and copy of the same models shares one
entry and none removes another's (old entries go by age and number: ``prune_cache``). A worker
that finds its entry (intact: its name carries its content's digest) opens it and nothing
else: the rewrite and its ``onnx`` import, the original session and the probe cost about
0.2 s of CPU per worker start, which matters to a pre-commit hook checking one image. When
the folder cannot be written the rewrite is done in memory each time.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# largest difference allowed between the original and the rewritten graph's outputs on the
# probe. Both output probabilities; measured differences were below 1e-6 on the probes and up
# to 3e-5 on corpus images, while a rewrite that dropped one bias term differed by 1.0.
PROBE_TOLERANCE = 1e-3
DETECTOR_PROBE = (96, 256)  # (height, width) of the probe image: multiples of 32 for the detector
RECOGNISER_PROBE = (48, 192)  # the recogniser reads lines 48 px high


@dataclass(frozen=True)
class FoldCounts:
    affine_into_conv: int  # s*conv+t folded into the convolution
    hard_swish: int  # four-operator hard-swish chains shortened
    affine_into_next_conv: int  # a*y+b folded into the 1x1 convolutions it feeds
    affine_as_depthwise: int = 0  # the other a*y+b made one 1x1 convolution per channel

    @property
    def total(self) -> int:
        return self.affine_into_conv + self.hard_swish + self.affine_into_next_conv + self.affine_as_depthwise


class _Graph:
    """The nodes of one ONNX graph, with its Constant values and who reads each tensor."""

    def __init__(self, graph) -> None:
        from onnx import numpy_helper

        self.constants = {n.output[0]: numpy_helper.to_array(n.attribute[0].t)
                          for n in graph.node if n.op_type == "Constant" and n.attribute
                          and n.attribute[0].name == "value"}
        self.nodes = [n for n in graph.node if n.op_type != "Constant"]
        self.outputs = {o.name for o in graph.output}
        self.weights: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id(conv) -> (W, B) in float64
        self.removed: set[int] = set()
        self.index_readers()

    def index_readers(self) -> None:
        """Who reads each tensor; each pass calls this first, since the one before it
        rewired inputs (a pass's own changes never touch the tensors it looks up later)."""
        self._readers: dict[str, list] = {}
        for node in self.nodes:
            for name in node.input:
                self._readers.setdefault(name, []).append(node)

    def readers(self, name: str) -> list:
        return [n for n in self._readers.get(name, ()) if id(n) not in self.removed]

    def only_reader(self, name: str, op_type: str):
        """The one node reading ``name`` when it is an ``op_type`` and ``name`` is not a graph
        output; else None."""
        readers = self.readers(name)
        if name in self.outputs or len(readers) != 1 or readers[0].op_type != op_type:
            return None
        return readers[0]

    def scalar_operand(self, node) -> tuple[float | None, str | None]:
        """(constant, other input) for a binary node with one scalar constant input: one
        value, of shape () or (1,) (more dimensions would broadcast the result to a
        different shape, which a folded convolution would not)."""
        if len(node.input) != 2:
            return None, None
        constant = [i for i in node.input if i in self.constants]
        tensor = [i for i in node.input if i not in self.constants]
        if len(constant) != 1 or len(tensor) != 1:
            return None, None
        value = self.constants[constant[0]]
        if value.size != 1 or value.ndim > 1:
            return None, None
        return float(self.constants[constant[0]].reshape(-1)[0]), tensor[0]

    def scalar_affine(self, mul) -> tuple[float, str, object, float] | None:
        """For ``mul``, ``source * a``, whose one reader is ``add``, ``(source * a) + b``, both by
        scalar constants: ``(a, source, add, b)``; else None."""
        if mul is None or mul.op_type != "Mul":
            return None
        scale, source = self.scalar_operand(mul)
        add = self.only_reader(mul.output[0], "Add") if scale is not None else None
        shift, _ = self.scalar_operand(add) if add is not None else (None, None)
        return None if shift is None else (scale, source, add, shift)

    def conv_weights(self, conv) -> tuple[np.ndarray, np.ndarray] | None:
        if id(conv) not in self.weights:
            if conv.input[1] not in self.constants or (len(conv.input) > 2 and conv.input[2] not in self.constants):
                return None
            w = self.constants[conv.input[1]].astype(np.float64)
            b = (self.constants[conv.input[2]].astype(np.float64) if len(conv.input) > 2
                 else np.zeros(w.shape[0]))
            self.weights[id(conv)] = (w, b)
        return self.weights[id(conv)]

    def remove(self, *nodes) -> None:
        self.removed.update(id(n) for n in nodes)


def _fold_affine_into_conv(g: _Graph) -> int:
    count = 0
    for conv in [n for n in g.nodes if n.op_type == "Conv"]:
        mul = g.only_reader(conv.output[0], "Mul")
        affine = g.scalar_affine(mul)
        weights = g.conv_weights(conv) if affine is not None else None
        if weights is None:
            continue
        scale, _, add, shift = affine
        w, b = weights
        w *= scale
        b[:] = b * scale + shift
        conv.output[0] = add.output[0]
        g.remove(mul, add)
        count += 1
    return count


def _shorten_hard_swish(g: _Graph) -> int:
    from onnx import helper

    count = 0
    for add in [n for n in g.nodes if n.op_type == "Add"]:
        three, z = g.scalar_operand(add)
        if three != 3.0:
            continue
        clip = g.only_reader(add.output[0], "Clip")
        if clip is None or len(clip.input) != 3 or not all(i in g.constants for i in clip.input[1:]):
            continue
        if [float(g.constants[i]) for i in clip.input[1:]] != [0.0, 6.0]:
            continue
        mul = g.only_reader(clip.output[0], "Mul")
        if mul is None or sorted(mul.input) != sorted([z, clip.output[0]]):
            continue
        div = g.only_reader(mul.output[0], "Div")
        if div is None or div.input[0] != mul.output[0] or g.scalar_operand(div)[0] != 6.0:
            continue
        gate = f"{div.output[0]}__hard_sigmoid"
        sigmoid = helper.make_node("HardSigmoid", [z], [gate], name=gate, alpha=1.0 / 6.0, beta=0.5)
        product = helper.make_node("Mul", [z, gate], [div.output[0]], name=f"{div.output[0]}__hard_swish")
        at = next(k for k, node in enumerate(g.nodes) if node is div)  # by identity, not by value
        g.nodes[at:at + 1] = [sigmoid, product]
        g.remove(add, clip, mul)
        count += 1
    return count


def _is_plain_pointwise(g: _Graph, conv, tensor: str) -> bool:
    """A 1x1 convolution of ``tensor`` with no padding, stride-agnostic, group 1."""
    from onnx import helper

    if conv.op_type != "Conv" or conv.input[0] != tensor or conv.input[1] not in g.constants:
        return False
    attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    padded = any(attrs.get("pads", [0])) or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID")
    return g.constants[conv.input[1]].shape[2:] == (1, 1) and not padded and attrs.get("group", 1) == 1


def _fold_affine_into_next_conv(g: _Graph) -> int:
    count = 0
    for mul in [n for n in g.nodes if n.op_type == "Mul"]:
        affine = g.scalar_affine(mul)
        if affine is None or affine[2].output[0] in g.outputs:
            continue
        scale, source, add, shift = affine
        convs = g.readers(add.output[0])
        if not convs or not all(_is_plain_pointwise(g, c, add.output[0]) for c in convs):
            continue
        if any(g.conv_weights(c) is None for c in convs):
            continue
        for conv in convs:
            w, b = g.conv_weights(conv)
            b[:] = b + shift * w.sum(axis=(1, 2, 3))
            w *= scale
            conv.input[0] = source
        g.remove(mul, add)
        count += 1
    return count


# operators that keep their input's channels: a tensor made by them from a convolution's
# output has as many channels as that convolution has filters
_CHANNEL_KEEPING = frozenset({"Mul", "Add", "Div", "Clip", "HardSigmoid", "Relu", "Sigmoid"})


def _channels(g: _Graph, tensor: str) -> int | None:
    """How many channels ``tensor`` has, when it comes from a convolution with constant
    weights through channel-keeping operators only; else None."""
    made_by = {out: n for n in g.nodes if id(n) not in g.removed for out in n.output}
    seen, todo = set(), [tensor]
    while todo:
        name = todo.pop()
        node = made_by.get(name)
        if node is None or name in seen:
            continue
        seen.add(name)
        if node.op_type == "Conv":
            weights = g.conv_weights(node)
            return None if weights is None else int(weights[0].shape[0])
        if node.op_type not in _CHANNEL_KEEPING:
            return None
        todo += [i for i in node.input if i not in g.constants]
    return None


def _affine_as_depthwise_conv(g: _Graph) -> int:
    """Each ``a*y+b`` left (it feeds a padded convolution, where the padding's zeros would
    not be shifted by ``b``) becomes one 1x1 convolution per channel (weights ``a``, bias
    ``b``): the same arithmetic, one operator instead of two. ONNX Runtime runs convolutions
    in its blocked channel layout; a Mul and an Add by scalars it runs in the plain layout,
    and so converted the feature map out of the blocked layout and back around each pair."""
    from onnx import helper

    count = 0
    for mul in [n for n in g.nodes if n.op_type == "Mul"]:
        affine = g.scalar_affine(mul)
        channels = _channels(g, affine[1]) if affine is not None else None
        if channels is None:
            continue
        scale, source, add, shift = affine
        name = add.output[0]
        conv = helper.make_node("Conv", [source], [name], name=f"{name}__affine", group=channels,
                                kernel_shape=[1, 1])
        g.weights[id(conv)] = (np.full((channels, 1, 1, 1), scale), np.full(channels, shift))
        at = next(k for k, node in enumerate(g.nodes) if node is add)  # by identity, not by value
        g.nodes[at] = conv
        g.remove(mul)
        count += 1
    return count


def fold_affine_activations(model):
    """Rewrite ``model`` (an onnx.ModelProto, changed in place and returned) as described in
    the module's docstring; returns (model, FoldCounts)."""
    from onnx import numpy_helper

    g = _Graph(model.graph)
    passes = (_fold_affine_into_conv, _shorten_hard_swish, _fold_affine_into_next_conv, _affine_as_depthwise_conv)
    found = []
    for fold in passes:
        g.index_readers()
        found.append(fold(g))
    counts = FoldCounts(*found)
    kept = [n for n in g.nodes if id(n) not in g.removed]
    initializers = []
    for conv in kept:
        if id(conv) in g.weights:
            w, b = g.weights[id(conv)]
            names = (f"{conv.output[0]}__folded_W", f"{conv.output[0]}__folded_B")
            initializers += [numpy_helper.from_array(w.astype(np.float32), names[0]),
                             numpy_helper.from_array(b.astype(np.float32), names[1])]
            del conv.input[1:]
            conv.input.extend(names)
    read = {i for n in kept for i in n.input} | g.outputs
    constants = [n for n in model.graph.node if n.op_type == "Constant" and n.output[0] in read]
    del model.graph.node[:]
    model.graph.node.extend(constants + kept)
    model.graph.initializer.extend(initializers)
    return model, counts


def _session(model_bytes_or_path, options):
    """An ONNX Runtime CPU session with ``options`` (those of the session it replaces)."""
    import onnxruntime as ort

    return ort.InferenceSession(model_bytes_or_path, options, providers=["CPUExecutionProvider"])


def probe_input(height: int, width: int) -> np.ndarray:
    """A (1, 3, height, width) image of dark text on a light ground, normalised as RapidOCR
    normalises its inputs (to [-1, 1]): text, so that the detector's map and the
    recogniser's letters respond, and a wrong rewrite shows."""
    import cv2

    image = np.full((height, width, 3), 225, np.uint8)
    scale = height / 60.0 if height < 64 else height / 110.0
    cv2.putText(image, "Probe 0123", (4, int(height * 0.7)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (30, 30, 30), max(1, round(2 * scale)), cv2.LINE_AA)
    return cv2.dnn.blobFromImage(image, 1 / 127.5, mean=(127.5, 127.5, 127.5))


def model_cache_dir() -> Path:
    chosen = os.environ.get("NOTICER_MODEL_CACHE")
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "noticer" / "models"


# entries of the model cache not used for this long are removed when a new one is stored,
# and of the rest only this many, the most recently used, are kept: every checkout, worktree
# or benchmark copy with the same models and this module's code shares one entry per model,
# so these bounds only clear entries of older code (each edit of this file makes new ones)
CACHE_MAX_AGE_DAYS = 14
CACHE_MAX_ENTRIES = 16
_ENTRY_SUFFIX = ".onnx"
# what the bounds may remove: this module's entries (key-content.onnx), those of its older
# versions (named by the model file: ch_PP-OCRv4_det_infer-<20 hex>.onnx) and its temporary
# files; nothing else in a folder NOTICER_MODEL_CACHE names
_OURS = re.compile(r"[0-9a-f]{24}-[0-9a-f]{16}\.onnx|.+_infer-[0-9a-f]{20}\.onnx|tmp\w+\.tmp")


def file_digest(path: str | Path) -> str:
    """The SHA-256 of a file's content, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(model_digest: str) -> str:
    """What a rewrite depends on, hashed: the source model's content (its SHA-256, not its
    path, so that every copy of the same model shares one entry), this module's code (the
    rewrite and the probe that accepted it) and the ONNX Runtime version that ran the probe."""
    import onnxruntime

    key = hashlib.sha256()
    key.update(f"{model_digest}\0{onnxruntime.__version__}\0".encode())
    key.update(Path(__file__).read_bytes())
    return key.hexdigest()[:24]


def cached_model_path(model_digest: str, content_digest: str) -> Path:
    """The cache entry holding the rewrite of the model whose SHA-256 is ``model_digest``;
    its name ends with the first 16 hex digits of its own content's SHA-256, which is
    checked before the entry is used (a damaged entry is never run)."""
    return model_cache_dir() / f"{cache_key(model_digest)}-{content_digest[:16]}{_ENTRY_SUFFIX}"


def intact_entry(folder: Path, stem: str, suffix: str) -> Path | None:
    """The cache entry ``{stem}-{first 16 hex digits of its content's SHA-256}{suffix}`` in
    ``folder`` whose content matches its name, or None. An entry that does not match is
    removed (the caller makes it again); the one found is touched (the age bound counts from
    the last use)."""
    for entry in sorted(folder.glob(f"{stem}-*{suffix}")):
        expected = entry.name[:-len(suffix)].rsplit("-", 1)[1]
        try:
            intact = file_digest(entry)[:16] == expected
        except OSError:
            continue
        if intact:
            try:
                os.utime(entry)
            except OSError:
                pass
            return entry
        log.info("removing the damaged cache entry %s", entry)
        entry.unlink(missing_ok=True)
    return None


def find_cached(model_digest: str) -> Path | None:
    """The intact cache entry for the model whose SHA-256 is ``model_digest``, or None
    (``intact_entry``: a damaged entry is removed, and made again)."""
    return intact_entry(model_cache_dir(), cache_key(model_digest), _ENTRY_SUFFIX)


def prune_cache(folder: Path, keep: Path, ours: re.Pattern = _OURS, suffix: str = _ENTRY_SUFFIX,
                max_entries: int | None = None) -> None:
    """Remove cache entries (and temporary files a killed process left) not used for
    CACHE_MAX_AGE_DAYS, then all but the ``max_entries`` (default CACHE_MAX_ENTRIES) most
    recently used; never ``keep``. Entries another checkout still uses are recent and stay.
    ``ours`` names what may be removed, ``suffix`` ends the entries' names (the word lists of
    ``rules/text/wordlist.py`` share the folder with their own)."""
    import time

    max_entries = CACHE_MAX_ENTRIES if max_entries is None else max_entries
    now = time.time()
    entries = []
    for path in folder.iterdir():
        if path == keep or not ours.fullmatch(path.name):
            continue
        try:
            used = path.stat().st_mtime
        except OSError:
            continue
        if path.suffix == ".tmp" and now - used > 86400:
            path.unlink(missing_ok=True)
        elif path.name.endswith(suffix):
            if now - used > CACHE_MAX_AGE_DAYS * 86400:
                path.unlink(missing_ok=True)
            else:
                entries.append((used, path))
    entries.sort(reverse=True)
    for _, path in entries[max(0, max_entries - 1):]:
        path.unlink(missing_ok=True)


def _rewritten_bytes(model_path: str) -> bytes | None:
    """The rewritten graph, serialised; None when nothing in it could be rewritten."""
    import onnx

    model, counts = fold_affine_activations(onnx.load(model_path))
    return model.SerializeToString() if counts.total else None


def store_entry(path: Path, data: bytes, **bounds) -> None:
    """Keep ``data`` as the cache entry ``path``, written to a temporary file renamed into
    place (two workers starting together never read a half-written file), readable by all
    like the model it comes from; then apply the cache's bounds (``bounds``: those of
    ``prune_cache`` other than its folder and ``keep``). Raises OSError, and leaves no
    temporary file."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            temporary = handle.name
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
        temporary = None
        prune_cache(path.parent, keep=path, **bounds)
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


def _store(folder: Path, model_digest: str, data: bytes) -> None:
    """Keep ``data`` as the cache entry of the model whose SHA-256 is ``model_digest``
    (``store_entry``). A folder that cannot be written is no error."""
    try:
        store_entry(cached_model_path(model_digest, hashlib.sha256(data).hexdigest()), data)
    except OSError as exc:
        log.info("could not keep the rewritten model in %s (%s)", folder, exc)


def _matches(original, rewritten, probe_size: tuple[int, int]) -> bool:
    """Whether both sessions give the same output on the probe image, and that output varies
    (a probe the network does not respond to would let any rewrite through)."""
    probe = probe_input(*probe_size)
    expected = original.run(None, {original.get_inputs()[0].name: probe})[0]
    got = rewritten.run(None, {rewritten.get_inputs()[0].name: probe})[0]
    informative = float(expected.max() - expected.min()) > 0.5
    return informative and expected.shape == got.shape and float(np.abs(expected - got).max()) <= PROBE_TOLERANCE


def _cached(model_digest: str) -> Path | None:
    """The intact cache entry for the model, or None; any error looking it up counts as
    not cached."""
    try:
        return find_cached(model_digest)
    except OSError as exc:
        log.info("cannot use the model cache (%s)", exc)
        return None


def optimised_session(model_path: str, original, probe_size: tuple[int, int], digest: str | None = None):
    """A session on the rewritten graph of ``model_path``, with the original session's
    options, when their outputs match on a probe image of ``probe_size`` (height, width);
    else the original session (the reason is logged).

    ``original`` is the original session, or a function opening a session on a model file
    (``rules.text.ppocr.new_session``): then the original is opened only when it is needed,
    that is when no rewrite is cached. ``digest`` is the model file's SHA-256 (hex) when the
    caller has checked it already; else the file is hashed here. The rewrite is read from
    the model cache, keyed by that digest, when there (it passed the probe when it was
    stored, and its content is checked against its name), else made, probed and stored."""
    opener = original if callable(original) else None
    try:
        digest = digest or file_digest(model_path)
        where = _cached(digest)
        if where is not None:
            try:  # from the file: ONNX Runtime then holds less memory than when given the bytes
                return opener(where) if opener else _session(str(where), original.get_session_options())
            except Exception as exc:  # an entry ONNX Runtime refuses: made again below
                log.info("ignoring the cached model %s (%s)", where, exc)
    except Exception as exc:
        log.info("cannot use the model cache (%s)", exc)
    if opener:
        original = opener(model_path)  # the model's own errors are the caller's
    try:
        options = original.get_session_options()
        data = _rewritten_bytes(model_path)
        if data is None:
            return original
        rewritten = _session(data, options)
        if not _matches(original, rewritten, probe_size):
            log.warning("rewritten %s differs from the original on the probe; using the original", model_path)
            return original
        if digest:
            _store(model_cache_dir(), digest, data)
        return rewritten
    except Exception as exc:  # the original model still works: a failed speed-up is not an error
        log.warning("could not rewrite %s (%s); using the original", model_path, exc)
        return original
