"""constant_fold and the fusions, on small graphs; numbers are checked with onnx's reference evaluator."""

from __future__ import annotations

import numpy as np
from onnx import helper

from onnx2rs.build import CompileOptions, lower_model
from onnx2rs.dtypes import F32
from onnx2rs.ir import Graph, Node, Value
from onnx2rs.passes.constant_fold import constant_fold
from onnx2rs.passes.fuse import (
    fuse_activation,
    fuse_conv_affine,
    fuse_conv_batchnorm,
    fuse_conv_pool,
    fuse_conv_residual,
    fuse_matmul_add,
)
from onnx2rs.passes.weight_layout import pack_product_weights, pretranspose_gemm_weights
from onnx2rs.reference import evaluate_node
from onnx2rs.resources import runtime_constant

from ..helpers import make_model

rng = np.random.default_rng(0)


def f32(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def test_constant_fold_evaluates_constant_subgraphs_and_static_shapes() -> None:
    w = {"a": f32(2, 3), "b": f32(3)}
    g = Graph("g", [
        Node("add", "Add", ["a", "b"], ["c"]),
        Node("shape", "Shape", ["x"], ["s"], {"start": 1}),
        Node("mul", "Mul", ["x", "c"], ["y"]),
    ], {"x": Value("x", F32, (2, 3)), "c": Value("c", F32, (2, 3)), "y": Value("y", F32, (2, 3))},
        w, ["x"], ["y", "s"], opset=17)
    assert constant_fold(g)
    assert [n.name for n in g.nodes] == ["mul"]
    np.testing.assert_array_equal(g.initializers["c"], w["a"] + w["b"])
    np.testing.assert_array_equal(g.initializers["s"], [3])
    assert "c" not in g.values


def _conv_bn_model(with_relu: bool):
    x = f32(1, 3, 6, 6)
    weights = {"w": f32(4, 3, 3, 3), "bias": f32(4), "s": f32(4), "b": f32(4), "m": f32(4),
               "v": rng.uniform(0.5, 2, 4).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w", "bias"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("BatchNormalization", ["r" if with_relu else "c", "s", "b", "m", "v"], ["y"],
                              name="bn", epsilon=1e-3)]
    if not with_relu:
        nodes.pop(1)
    return make_model(nodes, {"x": x}, ["y"], weights), x, weights


def test_conv_batchnorm_folds_into_the_weights() -> None:
    _, g, _ = lower_model(_conv_bn_model(with_relu=False)[0], CompileOptions())
    assert [n.op_type for n in g.nodes] == ["Conv"]  # onnxsim may fold this too; either way one Conv
    x = f32(1, 3, 6, 6)
    # Rebuild the unfused computation by hand from the same model and compare.
    model, _, w = _conv_bn_model(with_relu=False)
    conv = Node("conv", "Conv", ["x", "w", "bias"], ["c"], {"pads": [1, 1, 1, 1]})
    (c,) = evaluate_node(conv, [x, w["w"], w["bias"]], 17)
    bn = Node("bn", "BatchNormalization", ["c", "s", "b", "m", "v"], ["y"], {"epsilon": 1e-3})
    (expected,) = evaluate_node(bn, [c, w["s"], w["b"], w["m"], w["v"]], 17)
    # The same, using fuse_conv_batchnorm directly on an IR graph.
    ir = Graph("g", [conv, bn], {k: Value(k, F32, s) for k, s in [("x", x.shape), ("c", c.shape), ("y", c.shape)]},
               dict(w), ["x"], ["y"], opset=17)
    assert fuse_conv_batchnorm(ir)
    (fused,) = ir.nodes
    assert fused.outputs == ["y"] and "c" not in ir.values
    (got,) = evaluate_node(fused, [x, *(ir.initializers[n] for n in fused.inputs[1:])], 17)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert model is not None


def test_batchnorm_folds_into_a_grouped_strided_conv_transpose() -> None:
    """ConvTranspose weights are [in, out/group, ...]: each output channel's factor must land
    on its group's column (PP-OCRv4 det's upsampling head has such a BatchNormalization).
    ONNX Runtime is the reference (onnx's own evaluator fails on grouped ConvTranspose)."""
    from onnx2rs.reference import run_onnxruntime

    x, w, bias = f32(1, 4, 5, 5), f32(4, 3, 2, 2), f32(6)
    s, b, m = f32(6), f32(6), f32(6)
    v = np.random.default_rng(3).uniform(0.5, 2, 6).astype(np.float32)
    attrs = {"group": 2, "strides": [2, 2]}
    unfused = make_model([helper.make_node("ConvTranspose", ["x", "w", "bias"], ["c"], **attrs),
                          helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["y"])],
                         {"x": x}, ["y"], {"w": w, "bias": bias, "s": s, "b": b, "m": m, "v": v})
    (expected,) = run_onnxruntime(unfused, {"x": x})
    up = Node("up", "ConvTranspose", ["x", "w", "bias"], ["c"], attrs)
    bn = Node("bn", "BatchNormalization", ["c", "s", "b", "m", "v"], ["y"])
    ir = Graph("g", [up, bn], {k: Value(k, F32, expected.shape) for k in "cy"} | {"x": Value("x", F32, x.shape)},
               {"w": w, "bias": bias, "s": s, "b": b, "m": m, "v": v}, ["x"], ["y"], opset=17)
    assert fuse_conv_batchnorm(ir)
    (fused,) = ir.nodes
    assert fused.op_type == "ConvTranspose" and fused.outputs == ["y"]
    folded = make_model([helper.make_node("ConvTranspose", ["x", "fw", "fb"], ["y"], **attrs)], {"x": x}, ["y"],
                        {"fw": ir.initializers[fused.inputs[1]], "fb": ir.initializers[fused.inputs[2]]})
    (got,) = run_onnxruntime(folded, {"x": x})
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_batchnorm_after_relu_is_not_folded() -> None:
    g = Graph("g", [Node("conv", "Conv", ["x", "w"], ["c"]), Node("relu", "Relu", ["c"], ["r"]),
                    Node("bn", "BatchNormalization", ["r", "s", "b", "m", "v"], ["y"])],
              {k: Value(k, F32, (1, 4, 4, 4)) for k in "xcry"},
              {"w": f32(4, 4, 1, 1), **{k: f32(4) for k in "sbmv"}}, ["x"], ["y"], opset=17)
    assert not fuse_conv_batchnorm(g)


def test_matmul_add_becomes_gemm_with_the_same_numbers() -> None:
    a, b, c = f32(3, 4), f32(4, 5), f32(5)
    g = Graph("g", [Node("mm", "MatMul", ["a", "b"], ["p"]), Node("add", "Add", ["c", "p"], ["y"])],
              {"a": Value("a", F32, (3, 4)), "p": Value("p", F32, (3, 5)), "y": Value("y", F32, (3, 5))},
              {"b": b, "c": c}, ["a"], ["y"], opset=17)
    assert fuse_matmul_add(g)
    (gemm,) = g.nodes
    assert gemm.op_type == "Gemm" and gemm.outputs == ["y"]
    (got,) = evaluate_node(gemm, [a, b, c], 17)
    np.testing.assert_allclose(got, a @ b + c, rtol=1e-5, atol=1e-5)


def test_matmul_with_a_second_reader_is_not_fused() -> None:
    g = Graph("g", [Node("mm", "MatMul", ["a", "b"], ["p"]), Node("add", "Add", ["p", "c"], ["y"]),
                    Node("t", "Tanh", ["p"], ["z"])],
              {k: Value(k, F32, (3, 5)) for k in "apyz"}, {"b": f32(5, 5), "c": f32(5)}, ["a"], ["y", "z"],
              opset=17)
    assert not fuse_matmul_add(g)


def test_activation_fuses_into_conv_and_gemm_only_when_sole_reader() -> None:
    g = Graph("g", [Node("gemm", "Gemm", ["x", "w"], ["h"]), Node("clip", "Clip", ["h", "lo", "hi"], ["y"]),
                    Node("conv", "Conv", ["x4", "k"], ["c"]), Node("relu", "Relu", ["c"], ["r"]),
                    Node("tanh", "Tanh", ["c"], ["t"])],
              {**{k: Value(k, F32, (2, 2)) for k in "xhy"},
               **{k: Value(k, F32, (1, 1, 2, 2)) for k in ["x4", "c", "r", "t"]}},
              {"w": f32(2, 2), "lo": np.float32(0), "hi": np.float32(6), "k": f32(1, 1, 1, 1)},
              ["x", "x4"], ["y", "r", "t"], opset=17)
    assert fuse_activation(g)
    assert [n.op_type for n in g.nodes] == ["Gemm", "Conv", "Relu", "Tanh"]
    assert g.nodes[0].activation == ("Clip", {"min": 0.0, "max": 6.0}) and g.nodes[0].outputs == ["y"]
    assert g.nodes[1].activation is None  # c has two readers


def test_split_becomes_slices_that_match_the_reference() -> None:
    from onnx2rs.passes.decompose import decompose

    x = f32(2, 7)
    g = Graph("g", [Node("split", "Split", ["x", "sizes"], ["a", "b", "c"], {"axis": 1})],
              {"x": Value("x", F32, (2, 7)), "a": Value("a", F32, (2, 2)), "b": Value("b", F32, (2, 4)),
               "c": Value("c", F32, (2, 1))},
              {"sizes": np.array([2, 4, 1], np.int64)}, ["x"], ["a", "b", "c"], opset=18)
    expected = evaluate_node(Node("split", "Split", ["x", "s"], ["a", "b", "c"], {"axis": 1}),
                             [x, np.array([2, 4, 1], np.int64)], 18)
    assert decompose(g)
    assert [n.op_type for n in g.nodes] == ["Slice"] * 3
    for node, want in zip(g.nodes, expected, strict=True):
        (got,) = evaluate_node(node, [x, *(g.initializers[n] for n in node.inputs[1:])], 18)
        np.testing.assert_array_equal(got, want)


def test_fuse_conv_affine_needs_per_channel_constants_and_a_sole_reader() -> None:
    w = f32(4, 2, 3)

    def graph(constant: np.ndarray, outputs: list[str]) -> Graph:
        nodes = [Node("conv", "Conv", ["x", "w"], ["c"], {"pads": [1, 1]}), Node("mul", "Mul", ["c", "k"], ["y"])]
        values = {"x": Value("x", F32, (1, 2, 5)), "c": Value("c", F32, (1, 4, 5)), "y": Value("y", F32, (1, 4, 5))}
        return Graph("g", nodes, values, {"w": w, "k": constant}, ["x"], outputs, opset=17)

    cases = [(f32(4, 1), True), (np.array(2.0, np.float32), True), (f32(5), False), (f32(1, 4, 5), False)]
    for constant, folds in cases:
        g = graph(constant, ["y"])
        assert fuse_conv_affine(g) == folds, constant.shape
        if folds:
            (node,) = g.nodes
            assert node.outputs == ["y"]
            expected = w * np.broadcast_to(constant.reshape(-1, 1, 1), (4, 1, 1))
            np.testing.assert_allclose(g.initializers[node.inputs[1]], expected, rtol=1e-6)
    # The Conv's output is also a graph output: no fold.
    assert not fuse_conv_affine(graph(f32(4, 1), ["y", "c"]))


def test_conv_residual_moves_the_conv_after_the_residual_and_refuses_broadcasts() -> None:
    """The numbers are checked against ONNX Runtime in tests/ops/test_fusions.py; here, the rewrite."""
    shape = (1, 2, 3, 3)

    def graph(residual_shape: tuple[int, ...], activation: tuple | None = None) -> Graph:
        nodes = [Node("main", "Conv", ["x", "w", "b"], ["c"], {"pads": [1, 1, 1, 1]}),
                 Node("short", "Relu", ["x"], ["d"]), Node("add", "Add", ["c", "d"], ["y"])]
        nodes[0].activation = activation
        values = {"x": Value("x", F32, residual_shape), "c": Value("c", F32, shape),
                  "d": Value("d", F32, residual_shape), "y": Value("y", F32, shape)}
        return Graph("g", nodes, values, {"w": f32(2, 2, 3, 3), "b": f32(2)}, ["x"], ["y"], opset=17)

    g = graph(shape)
    assert fuse_conv_residual(g)
    assert [(n.name, n.inputs, n.outputs) for n in g.nodes] == [("short", ["x"], ["d"]),
                                                                ("main", ["x", "w", "b", "d"], ["y"])]
    # A residual broadcast over the output is an Add's job; act(conv) + r is not act(conv + r).
    assert not fuse_conv_residual(graph((1, 2, 1, 1)))
    assert not fuse_conv_residual(graph(shape, ("Relu", {})))


def test_gemm_weights_read_transposed_are_transposed_once_at_build_time() -> None:
    a, w, c = f32(2, 5), f32(3, 5), f32(3)
    gemm = Node("fc", "Gemm", ["a", "w", "c"], ["y"], {"transB": 1, "alpha": 0.5})
    g = Graph("g", [gemm], {"a": Value("a", F32, (2, 5)), "y": Value("y", F32, (2, 3))},
              {"w": w, "c": c}, ["a"], ["y"], opset=17)
    (expected,) = evaluate_node(Node("fc", "Gemm", ["a", "w", "c"], ["y"], {"transB": 1, "alpha": 0.5}),
                                [a, w, c], 17)
    assert pretranspose_gemm_weights(g)
    assert "transB" not in gemm.attrs and g.initializers["w"] is w  # the original is untouched
    (got,) = evaluate_node(gemm, [a, *(g.initializers[i] for i in gemm.inputs[1:])], 17)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert not pretranspose_gemm_weights(g)  # nothing left to transpose


def test_product_weights_become_panels_that_hold_the_same_matrix() -> None:
    """The numbers through the runtime's panels are checked against ONNX Runtime in
    tests/ops/test_fusions.py; here, which weights become panels, and that each panel
    holds its columns of B row by row, zero-padded."""
    width = runtime_constant("ops/linalg/prepacked.rs", "PANEL_COLUMNS")
    shapes = {"wide": (7, 5 * width), "ragged": (3, 8 * width + 1), "narrow": (4, width + 3),
              "transposed": (6, width), "matmul": (5, width)}
    nodes = [Node(k, "MatMul" if k == "matmul" else "Gemm", ["a" + k, k], ["y" + k],
                  {"transB": 1} if k == "transposed" else {}) for k in shapes]
    values = {f"{io}{k}": Value(f"{io}{k}", F32, (2, s[0]) if io == "a" else (2, s[1]))
              for k, s in shapes.items() for io in "ay"}
    weights = {k: f32(*s) for k, s in shapes.items()}
    g = Graph("g", nodes, values, dict(weights), [f"a{k}" for k in shapes], [f"y{k}" for k in shapes],
              opset=17)
    assert pack_product_weights(g)
    packed = {n.name: n.inputs[1] for n in nodes if n.inputs[1] in g.panels}
    # narrow pads by more than 1/8; transB waits for pretranspose
    assert sorted(packed) == ["matmul", "ragged", "wide"]
    for name, panels in packed.items():
        k, n = shapes[name]
        assert g.panels[panels] == (k, n) and g.initializers[panels].shape == (-(-n // width), k, width)
        flat = g.initializers[panels].transpose(1, 0, 2).reshape(k, -1)
        np.testing.assert_array_equal(flat[:, :n], weights[name])
        assert not flat[:, n:].any()
    assert not pack_product_weights(g)  # each weight once


def test_conv_pool_takes_only_pools_that_tile_the_conv_output() -> None:
    """The numbers are checked against ONNX Runtime in tests/ops/test_fusions.py; here, which
    MaxPools the Conv absorbs: the pooled value becomes its output, its own output is gone.
    The rule looks at the pool alone: a 1x1 Conv read in place takes it too (the runtime
    pools after the product)."""

    def graph(pool_attrs: dict, kernel: int = 3, group: int = 1, pool_outputs: tuple[str, ...] = ("y",),
              outputs: tuple[str, ...] = ("y",)) -> Graph:
        pool = Node("pool", "MaxPool", ["c"], list(pool_outputs), {"kernel_shape": [2, 2], **pool_attrs})
        nodes = [Node("conv", "Conv", ["x", "w"], ["c"], {"pads": [kernel // 2] * 4, "group": group}), pool]
        values = {"x": Value("x", F32, (1, 2, 8, 8)), "c": Value("c", F32, (1, 2, 8, 8)),
                  "y": Value("y", F32, (1, 2, 4, 4)), "i": Value("i", F32, (1, 2, 4, 4))}
        w = f32(2, 2 // group, kernel, kernel)
        return Graph("g", nodes, values, {"w": w}, ["x"], list(outputs), opset=17)

    for kernel in (3, 1):
        g = graph({"strides": [2, 2]}, kernel=kernel)
        assert fuse_conv_pool(g)
        assert [(n.op_type, n.outputs, n.pool) for n in g.nodes] == [("Conv", ["y"], (2, 2))]
        assert "c" not in g.values
    refused = {
        "overlapping": graph({"strides": [1, 1]}),
        "padded": graph({"strides": [2, 2], "pads": [1, 1, 0, 0]}),
        "ceil mode": graph({"strides": [2, 2], "ceil_mode": 1}),
        "with Indices": graph({"strides": [2, 2]}, pool_outputs=("y", "i")),
        "grouped": graph({"strides": [2, 2]}, group=2),
        "the Conv's output also returned": graph({"strides": [2, 2]}, outputs=("y", "c")),
    }
    for why, g in refused.items():
        assert not fuse_conv_pool(g), why
        assert [n.op_type for n in g.nodes] == ["Conv", "MaxPool"], why
