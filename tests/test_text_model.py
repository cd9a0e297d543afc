"""RapidOCR made faster with the same outputs: the graph rewrite (rules/text/model.py), with
fewer operators and the original graph kept whenever the rewrite cannot be trusted, and the
detector input normalised by OpenCV."""
from __future__ import annotations

import numpy as np
import pytest

import onnx
from onnx import TensorProto, helper, numpy_helper

from rules.text import model as text_model
from rules.text import rapid as text_rapid
from rules.text.model import DETECTOR_PROBE, RECOGNISER_PROBE, fold_affine_activations, optimised_session


def _const(name: str, value) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value, np.float32), name))


def _conv_block(prefix: str, source: str, weight: np.ndarray, pads: int, scalars_first: bool = True):
    """conv -> s*x+t -> hard-swish (five operators) -> a*y+b, as Paddle exports PP-LCNetV3."""
    rng = np.random.default_rng(len(prefix))
    s, t, a, b = (float(v) for v in rng.uniform(0.5, 1.5, 4))
    n = lambda k: f"{prefix}_{k}"  # noqa: E731
    mul = (lambda c, x, out: helper.make_node("Mul", [c, x] if scalars_first else [x, c], [out]))
    return [
        _const(n("W"), weight), _const(n("B"), rng.normal(size=weight.shape[0])),
        helper.make_node("Conv", [source, n("W"), n("B")], [n("conv")], pads=[pads] * 4),
        _const(n("s"), [s]), mul(n("s"), n("conv"), n("scaled")),
        _const(n("t"), [t]), helper.make_node("Add", [n("scaled"), n("t")], [n("z")]),
        _const(n("three"), 3.0), helper.make_node("Add", [n("z"), n("three")], [n("z3")]),
        _const(n("lo"), 0.0), _const(n("hi"), 6.0), helper.make_node("Clip", [n("z3"), n("lo"), n("hi")], [n("clip")]),
        helper.make_node("Mul", [n("z"), n("clip")], [n("zc")]),
        _const(n("six"), 6.0), helper.make_node("Div", [n("zc"), n("six")], [n("hs")]),
        _const(n("a"), [a]), mul(n("a"), n("hs"), n("ha")),
        _const(n("b"), [b]), helper.make_node("Add", [n("ha"), n("b")], [n("out")]),
    ], n("out")


def _model(extra_reader: bool = False) -> onnx.ModelProto:
    """x -> 3x3 block (padded) -> 1x1 block -> 3x3 padded conv -> y (and, with
    ``extra_reader``, the first block's raw convolution also leaves the graph)."""
    rng = np.random.default_rng(0)
    first, out1 = _conv_block("b1", "x", rng.normal(size=(4, 3, 3, 3)), pads=1)
    second, out2 = _conv_block("b2", out1, rng.normal(size=(5, 4, 1, 1)), pads=0, scalars_first=False)
    last = [_const("W3", rng.normal(size=(2, 5, 3, 3))),
            helper.make_node("Conv", [out2, "W3"], ["y"], pads=[1, 1, 1, 1])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 16, 16])]
    if extra_reader:
        outputs.append(helper.make_tensor_value_info("b1_conv", TensorProto.FLOAT, [1, 4, 16, 16]))
    graph = helper.make_graph(first + second + last, "blocks",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])], outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=8)


def _rapidocr_like_session(model):
    """A session with RapidOCR's own options, on one thread."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.enable_cpu_mem_arena = False
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return text_model._session(model, options)


def _run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    return _rapidocr_like_session(model.SerializeToString()).run(None, {"x": x})


def _ops(model: onnx.ModelProto) -> list[str]:
    return [n.op_type for n in model.graph.node if n.op_type != "Constant"]


def test_folding_keeps_the_outputs_and_drops_the_elementwise_passes():
    x = np.random.default_rng(1).normal(size=(1, 3, 16, 16)).astype(np.float32)
    expected = _run(_model(), x)
    model, counts = fold_affine_activations(_model())
    onnx.checker.check_model(model)
    # both blocks lose s*conv+t; both hard-swishes shrink to two operators; a*y+b folds into
    # the 1x1 convolution after block 1; before the padded 3x3 one after block 2 it becomes a
    # 1x1 convolution per channel
    assert (counts.affine_into_conv, counts.hard_swish, counts.affine_into_next_conv,
            counts.affine_as_depthwise) == (2, 2, 1, 1)
    assert _ops(model).count("Clip") == 0 and _ops(model).count("Div") == 0
    assert len(_ops(model)) == len(_ops(_model())) - 2 * 2 - 2 * 2 - 2 - 1
    groups = [{a.name: helper.get_attribute_value(a) for a in n.attribute}.get("group", 1)
              for n in model.graph.node if n.op_type == "Conv"]
    assert sorted(groups) == [1, 1, 1, 5]  # block 2's 5 channels, one filter each
    np.testing.assert_allclose(_run(model, x)[0], expected[0], rtol=1e-4, atol=1e-4)


def test_a_convolution_output_read_elsewhere_is_not_folded():
    x = np.random.default_rng(2).normal(size=(1, 3, 16, 16)).astype(np.float32)
    expected = _run(_model(extra_reader=True), x)
    model, counts = fold_affine_activations(_model(extra_reader=True))
    assert counts.affine_into_conv == 1  # block 1's raw convolution is a graph output
    got = _run(model, x)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)


def test_a_constant_of_more_dimensions_is_not_taken_for_a_scalar():
    """conv * c + t with c of shape (1, 1, 1, 1, 1): the product has five dimensions, so
    folding c into the convolution would change the output's shape."""
    rng = np.random.default_rng(4)
    nodes = [_const("W", rng.normal(size=(2, 3, 1, 1))),
             helper.make_node("Conv", ["x", "W"], ["c"]),
             _const("s", np.full((1, 1, 1, 1, 1), 2.0)), helper.make_node("Mul", ["s", "c"], ["m"]),
             _const("t", [0.5]), helper.make_node("Add", ["m", "t"], ["y"])]
    graph = helper.make_graph(nodes, "five", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 2, 16, 16])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=8)
    x = rng.normal(size=(1, 3, 16, 16)).astype(np.float32)
    expected = _run(model, x)[0]
    rewritten, counts = fold_affine_activations(model)
    assert counts.total == 0
    assert _run(rewritten, x)[0].shape == expected.shape == (1, 1, 2, 16, 16)


@pytest.fixture
def rapidocr_models(monkeypatch, tmp_path):
    """{"det"/"rec": (model path, original session, probe size)} for RapidOCR's two
    networks, with an empty model cache."""
    monkeypatch.setenv("NOTICER_MODEL_CACHE", str(tmp_path / "models"))
    det_path, rec_path = text_rapid.rapidocr_model_paths()
    return {"det": (det_path, _rapidocr_like_session(det_path), DETECTOR_PROBE),
            "rec": (rec_path, _rapidocr_like_session(rec_path), RECOGNISER_PROBE)}


@pytest.fixture
def detector(rapidocr_models):
    return rapidocr_models["det"]


@pytest.mark.parametrize("network", ["det", "rec"])
def test_both_rapidocr_graphs_are_rewritten_and_pass_the_probe(rapidocr_models, network):
    path, original, probe = rapidocr_models[network]
    _, counts = fold_affine_activations(onnx.load(path))
    assert counts.affine_into_conv > 0 and counts.hard_swish > 0 and counts.affine_into_next_conv > 0
    assert counts.affine_as_depthwise > 0
    assert optimised_session(path, original, probe) is not original


def _original_only(path, original, probe, digest=None):
    return original(path) if callable(original) else original


def test_the_engine_reads_the_same_text_with_the_rewritten_graphs(monkeypatch, tmp_path):
    """End to end on a generated sign: the rewritten detector and recogniser read exactly
    what the original graphs read, with the same boxes."""
    from fixtures.text_gen import make_case
    from rules.text import ocr as text_ocr

    monkeypatch.setenv("NOTICER_MODEL_CACHE", str(tmp_path / "models"))
    image = make_case(5, "photo", False, width=640, height=480).image
    params = text_ocr.OcrParams(engine="rapidocr")
    results = {}
    for mode in ("rewritten", "original"):
        text_ocr.rapidocr_engine.cache_clear()
        if mode == "original":
            monkeypatch.setattr(text_rapid, "optimised_session", _original_only, raising=False)
            monkeypatch.setattr(text_model, "optimised_session", _original_only)
        results[mode] = text_ocr.ocr_image(image, image[:, :, 1], params)
    text_ocr.rapidocr_engine.cache_clear()
    assert len(list((tmp_path / "models").glob("*.onnx"))) == 2  # the first run did rewrite both
    new, old = results["rewritten"], results["original"]
    assert new.text and new.text == old.text
    corners = lambda result: [(w.box.x0, w.box.y0, w.box.x1, w.box.y1) for w in result.words]  # noqa: E731
    assert np.allclose(corners(new), corners(old), atol=0.5)


def test_the_original_graph_is_kept_when_the_rewrite_fails_or_differs(detector, monkeypatch, caplog, tmp_path):
    det_path, original, probe = detector
    assert optimised_session(det_path, original, probe) is not original
    for entry in (tmp_path / "models").iterdir():  # a cached rewrite passed the probe when stored
        entry.unlink()
    monkeypatch.setattr(text_model, "PROBE_TOLERANCE", -1.0)  # every output now "differs"
    assert optimised_session(det_path, original, probe) is original
    assert "differs from the original" in caplog.text
    assert list((tmp_path / "models").iterdir()) == []  # and is not kept

    def broken(model):
        raise ValueError("unexpected graph")

    monkeypatch.setattr(text_model, "fold_affine_activations", broken)
    assert optimised_session(det_path, original, probe) is original
    assert "unexpected graph" in caplog.text


@pytest.mark.parametrize("network", ["det", "rec"])
def test_the_probe_catches_a_slightly_wrong_rewrite(rapidocr_models, monkeypatch, network):
    """A rewrite whose one folded bias is off by 0.05 (as when a folding term is dropped)
    is refused, for each network."""
    path, original, probe = rapidocr_models[network]
    rewrite = text_model.fold_affine_activations

    def slightly_wrong(model):
        model, counts = rewrite(model)
        bias = next(t for t in model.graph.initializer if t.name.endswith("__folded_B"))
        bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + 0.05, bias.name))
        return model, counts

    monkeypatch.setattr(text_model, "fold_affine_activations", slightly_wrong)
    assert optimised_session(path, original, probe) is original


def test_the_detector_input_is_pp_ocrs_normalisation_to_float_rounding():
    """OpenCV's one-pass blob equals PP-OCR's ``(pixel / 255 - 0.5) / 0.5`` on the image
    resized to multiples of 32 (300 x 470 -> 288 x 480: 9.375 rounds to 9, 14.69 to 15)."""
    import cv2

    from rules.text import ppocr

    image = (np.random.default_rng(3).random((300, 470, 3)) * 255).astype(np.uint8)
    ours = ppocr.detector_input(image, 470)
    resized = cv2.resize(image, (480, 288)).astype(np.float32)
    expected = ((resized / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[np.newaxis]
    assert ours.shape == expected.shape == (1, 3, 288, 480)
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    assert ppocr.stride_size(300, 470, 235) == (160, 224)  # shrunk to 235 first: 150 x 235
    assert ppocr.detector_input(np.zeros((10, 200, 3), np.uint8), 200) is None  # 10 rows round to 0


def _entries(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_the_rewrite_is_kept_in_the_model_cache_and_read_back(detector, monkeypatch, tmp_path):
    det_path, original, probe = detector
    folder = tmp_path / "models"
    first = optimised_session(det_path, original, probe)
    assert first is not original
    [entry] = folder.iterdir()  # no temporary file left
    assert entry == text_model.find_cached(text_model.file_digest(det_path))
    assert entry.name.endswith(f"-{text_model.file_digest(entry)[:16]}.onnx")
    assert entry.stat().st_mode & 0o777 == 0o644

    def no_rewrite(model):
        raise AssertionError("the cached graph should have been used")

    rewrite = text_model.fold_affine_activations
    monkeypatch.setattr(text_model, "fold_affine_activations", no_rewrite)
    assert optimised_session(det_path, original, probe) is not original
    monkeypatch.setattr(text_model, "fold_affine_activations", rewrite)
    data = entry.read_bytes()
    entry.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit off: a damaged entry is never run
    assert text_model.find_cached(text_model.file_digest(det_path)) is None and not entry.exists()
    entry.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert optimised_session(det_path, original, probe) is not original
    assert entry.read_bytes() == data  # made again, the same


def test_a_warm_worker_start_opens_no_original_graph(monkeypatch, tmp_path):
    """The engine of a worker starting with the rewrites cached opens the two rewritten
    graphs and nothing else (no original session, no probe, no rewrite)."""
    from rules.text import ppocr

    monkeypatch.setenv("NOTICER_MODEL_CACHE", str(tmp_path / "models"))
    opened = []
    new_session = ppocr.new_session
    monkeypatch.setattr(ppocr, "new_session", lambda path, threads=1: opened.append(str(path)) or new_session(path, threads))
    originals = {str(ppocr.model_path("det")), str(ppocr.model_path("rec"))}
    text_rapid.rapidocr_engine.cache_clear()
    try:
        text_rapid.rapidocr_engine()  # a cold start: opens both originals and stores both rewrites
        assert set(opened) == originals and len(_entries(tmp_path / "models")) == 2
        opened.clear()
        monkeypatch.setattr(text_model, "fold_affine_activations", lambda model: pytest.fail("rewritten again"))
        monkeypatch.setattr(text_model, "_matches", lambda *args: pytest.fail("probed again"))
        text_rapid.rapidocr_engine.cache_clear()
        engine = text_rapid.rapidocr_engine()  # the next worker
        assert len(opened) == 2 and not set(opened) & originals
        assert {str(p) for p in (tmp_path / "models").iterdir()} == set(opened)
        assert engine.text_det is not None and engine.recogniser is not None
    finally:
        text_rapid.rapidocr_engine.cache_clear()


def test_copies_of_a_model_at_different_paths_share_one_entry(detector, monkeypatch, tmp_path):
    """Keyed by content, not by path: a worktree's or a benchmark copy's model finds the
    rewrite another checkout made, and storing one never removes the other's."""
    import shutil

    det_path, original, probe = detector
    copies = [tmp_path / "a" / "det.onnx", tmp_path / "b" / "other-name.onnx"]
    for copy in copies:
        copy.parent.mkdir()
        shutil.copyfile(det_path, copy)
    opener = lambda path: _rapidocr_like_session(str(path))  # noqa: E731
    assert optimised_session(str(copies[0]), opener, probe) is not None
    [entry] = (tmp_path / "models").iterdir()
    monkeypatch.setattr(text_model, "fold_affine_activations", lambda model: pytest.fail("rewritten again"))
    opened = []
    session = optimised_session(str(copies[1]), lambda path: opened.append(str(path)) or _rapidocr_like_session(str(path)), probe)
    assert opened == [str(entry)] and session is not None
    assert _entries(tmp_path / "models") == [entry.name]


def test_the_cache_bounds_remove_only_old_or_surplus_entries_of_its_own(detector, monkeypatch, tmp_path):
    """Storing a rewrite removes entries unused for CACHE_MAX_AGE_DAYS and those beyond
    CACHE_MAX_ENTRIES (least recently used first); a recent entry of other code (another
    checkout's) stays, and so does a file that is not the cache's."""
    import os
    import time

    det_path, original, probe = detector
    folder = tmp_path / "models"
    folder.mkdir()
    now = time.time()

    def entry(name: str, days_unused: float):
        path = folder / name
        path.write_bytes(b"x")
        os.utime(path, (now - days_unused * 86400,) * 2)
        return name

    recent = entry("a" * 24 + "-" + "b" * 16 + ".onnx", 0.5)  # another checkout's, used today
    old = entry("c" * 24 + "-" + "d" * 16 + ".onnx", text_model.CACHE_MAX_AGE_DAYS + 1)
    legacy = entry("ch_PP-OCRv4_det_infer-" + "e" * 20 + ".onnx", text_model.CACHE_MAX_AGE_DAYS + 1)
    leftover = entry("tmpab12_x.tmp", 2)  # a killed worker's half-written file
    foreign = entry("my-model.onnx", 400)  # the user's own file in NOTICER_MODEL_CACHE
    assert optimised_session(det_path, original, probe) is not original
    new = text_model.find_cached(text_model.file_digest(det_path)).name
    assert _entries(folder) == sorted([recent, foreign, new])
    assert old not in _entries(folder) and legacy not in _entries(folder) and leftover not in _entries(folder)

    monkeypatch.setattr(text_model, "CACHE_MAX_ENTRIES", 3)
    surplus = [entry(f"{k:024x}-{k:016x}.onnx", k) for k in range(1, 4)]  # 1, 2, 3 days unused
    (folder / new).unlink()
    assert optimised_session(det_path, original, probe) is not original
    assert _entries(folder) == sorted([surplus[0], recent, foreign, new])  # 3 kept: the new and 2 most recent


def test_an_unwritable_model_cache_only_costs_the_rewrite(detector, monkeypatch, tmp_path):
    det_path, original, probe = detector
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("NOTICER_MODEL_CACHE", str(tmp_path / "a-file" / "models"))
    assert optimised_session(det_path, original, probe) is not original
    assert (tmp_path / "a-file").read_text() == "x"


def test_a_failed_rename_leaves_no_temporary_file(detector, monkeypatch, tmp_path):
    det_path, original, probe = detector

    def refuse(source, target):
        raise PermissionError("read-only")

    monkeypatch.setattr(text_model.os, "replace", refuse)
    assert optimised_session(det_path, original, probe) is not original
    assert list((tmp_path / "models").iterdir()) == []


def test_a_cache_path_that_cannot_be_looked_up_only_costs_the_rewrite(detector, monkeypatch):
    det_path, original, probe = detector
    monkeypatch.setenv("NOTICER_MODEL_CACHE", "/" + "x" * 300)  # a name too long for the file system
    assert optimised_session(det_path, original, probe) is not original
