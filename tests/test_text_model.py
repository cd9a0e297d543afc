"""RapidOCR made faster with the same outputs: the graph rewrite (rules/text_model.py), with
fewer operators and the original graph kept whenever the rewrite cannot be trusted, and the
detector input normalised by OpenCV."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is a noticer dependency; reinstall with `make setup`")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from rules import text_model  # noqa: E402
from rules.text_model import fold_affine_activations, optimised_session  # noqa: E402


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


def _run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    return text_model._session(model.SerializeToString(), 1).run(None, {"x": x})


def _ops(model: onnx.ModelProto) -> list[str]:
    return [n.op_type for n in model.graph.node if n.op_type != "Constant"]


def test_folding_keeps_the_outputs_and_drops_the_elementwise_passes():
    x = np.random.default_rng(1).normal(size=(1, 3, 16, 16)).astype(np.float32)
    expected = _run(_model(), x)
    model, counts = fold_affine_activations(_model())
    onnx.checker.check_model(model)
    # both blocks lose s*conv+t; both hard-swishes shrink to two operators; a*y+b folds into
    # the 1x1 convolution after block 1, not into the padded 3x3 one after block 2
    assert (counts.affine_into_conv, counts.hard_swish, counts.affine_into_next_conv) == (2, 2, 1)
    assert _ops(model).count("Clip") == 0 and _ops(model).count("Div") == 0
    assert len(_ops(model)) == len(_ops(_model())) - 2 * 2 - 2 * 2 - 2
    np.testing.assert_allclose(_run(model, x)[0], expected[0], rtol=1e-4, atol=1e-4)


def test_a_convolution_output_read_elsewhere_is_not_folded():
    x = np.random.default_rng(2).normal(size=(1, 3, 16, 16)).astype(np.float32)
    expected = _run(_model(extra_reader=True), x)
    model, counts = fold_affine_activations(_model(extra_reader=True))
    assert counts.affine_into_conv == 1  # block 1's raw convolution is a graph output
    got = _run(model, x)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)


def test_the_engine_reads_the_same_text_with_the_rewritten_graphs(monkeypatch):
    """End to end on a generated sign: the rewritten detector and recogniser read exactly
    what the original graphs read, with the same boxes."""
    from bench.text_gen import make_case
    from rules import text_ocr

    pytest.importorskip("rapidocr_onnxruntime", reason="RapidOCR is not installed")
    image = make_case(5, "photo", False, width=640, height=480).image
    params = text_ocr.OcrParams(engine="rapidocr")
    results = {}
    for mode in ("rewritten", "original"):
        text_ocr.rapidocr_engine.cache_clear()
        if mode == "original":
            monkeypatch.setattr(text_model, "optimised_session", lambda path, original, threads=1: original)
        engine = text_ocr.rapidocr_engine()
        sessions = (engine.text_det.infer.session, engine.text_rec.session.session)
        results[mode] = (text_ocr.ocr_image(image, image[:, :, 1], params), sessions)
    text_ocr.rapidocr_engine.cache_clear()
    (new, new_sessions), (old, old_sessions) = results["rewritten"], results["original"]
    assert all(a is not b for a, b in zip(new_sessions, old_sessions))
    assert new.text and new.text == old.text
    corners = lambda result: [(w.box.x0, w.box.y0, w.box.x1, w.box.y1) for w in result.words]  # noqa: E731
    assert np.allclose(corners(new), corners(old), atol=0.5)


@pytest.fixture
def detector(monkeypatch, tmp_path):
    """(model path, original session) of RapidOCR's detector, with an empty model cache."""
    from rules import text_ocr

    pytest.importorskip("rapidocr_onnxruntime", reason="RapidOCR is not installed")
    monkeypatch.setenv("NOTICER_MODEL_CACHE", str(tmp_path / "models"))
    det_path, _ = text_ocr.rapidocr_model_paths()
    return det_path, text_model._session(det_path, 1)


def test_the_original_graph_is_kept_when_the_rewrite_fails_or_differs(detector, monkeypatch, caplog):
    det_path, original = detector
    assert optimised_session(det_path, original) is not original
    monkeypatch.setattr(text_model, "PROBE_TOLERANCE", -1.0)  # every output now "differs"
    assert optimised_session(det_path, original) is original
    assert "differs from the original" in caplog.text

    def broken(model):
        raise ValueError("unexpected graph")

    monkeypatch.setattr(text_model, "fold_affine_activations", broken)
    assert optimised_session(det_path, original) is original
    assert "unexpected graph" in caplog.text


def test_the_detector_input_is_rapidocrs_own_to_float_rounding():
    pytest.importorskip("rapidocr_onnxruntime", reason="RapidOCR is not installed")
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    from rules import text_ocr

    image = (np.random.default_rng(3).random((300, 470, 3)) * 255).astype(np.uint8)
    theirs = DetPreProcess(470, "max", [0.5] * 3, [0.5] * 3)
    ours = text_ocr.DetectorInput(theirs.resize)(image)
    expected = theirs(image)
    assert ours.shape == expected.shape == (1, 3, 288, 480)
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    assert isinstance(text_ocr.rapidocr_engine().text_det.get_preprocess(470), text_ocr.DetectorInput)


def test_the_rewrite_is_kept_in_the_model_cache_and_read_back(detector, monkeypatch, tmp_path):
    det_path, original = detector
    first = optimised_session(det_path, original)
    cached = text_model.cached_model_path(det_path)
    assert first is not original and cached.parent == tmp_path / "models" and cached.is_file()
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no temporary file left

    def no_rewrite(model):
        raise AssertionError("the cached graph should have been used")

    rewrite = text_model.fold_affine_activations
    monkeypatch.setattr(text_model, "fold_affine_activations", no_rewrite)
    assert optimised_session(det_path, original) is not original
    monkeypatch.setattr(text_model, "fold_affine_activations", rewrite)
    cached.write_bytes(b"not a model")  # a damaged entry is made again
    assert optimised_session(det_path, original) is not original
    assert cached.stat().st_size > 100_000


def test_an_unwritable_model_cache_only_costs_the_rewrite(detector, monkeypatch, tmp_path):
    det_path, original = detector
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("NOTICER_MODEL_CACHE", str(tmp_path / "a-file" / "models"))
    assert optimised_session(det_path, original) is not original
    assert (tmp_path / "a-file").read_text() == "x"
