"""Cast to and from the narrow element types, against ml_dtypes (which onnx's own reference
implementation and test data use): every float16 value, plus random float32 values,
through each float8/float4/bfloat16/float16 type with and without saturation, and every
in-range value of the 4- and 2-bit integers. Tolerance: exact (NaN equals NaN)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnx2rs import CompileOptions, compile_model, toolchain
from onnx2rs.tools.verify import graph_output_dtypes, run_cli

from ..helpers import scratch_dir

FLOATS = {
    TensorProto.FLOAT16: np.float16,
    TensorProto.BFLOAT16: ml_dtypes.bfloat16,
    TensorProto.FLOAT8E4M3FN: ml_dtypes.float8_e4m3fn,
    TensorProto.FLOAT8E4M3FNUZ: ml_dtypes.float8_e4m3fnuz,
    TensorProto.FLOAT8E5M2: ml_dtypes.float8_e5m2,
    TensorProto.FLOAT8E5M2FNUZ: ml_dtypes.float8_e5m2fnuz,
    TensorProto.FLOAT4E2M1: ml_dtypes.float4_e2m1fn,
}
FLOAT8 = {TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E4M3FNUZ, TensorProto.FLOAT8E5M2, TensorProto.FLOAT8E5M2FNUZ}
INTS = {TensorProto.INT4: ml_dtypes.int4, TensorProto.UINT4: ml_dtypes.uint4,
        TensorProto.INT2: ml_dtypes.int2, TensorProto.UINT2: ml_dtypes.uint2}


def _inputs() -> tuple[np.ndarray, np.ndarray]:
    every_half = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
    rng = np.random.default_rng(0)
    wide = (rng.standard_normal(4096) * 10.0 ** rng.integers(-9, 9, 4096)).astype(np.float32)
    specials = np.array([np.inf, -np.inf, np.nan, -0.0, 6e4, 1e9, -1e9], np.float32)
    x = np.concatenate([every_half, wide, specials])
    ints = np.arange(-8, 16, dtype=np.float32)
    return x, ints


def _expected(x: np.ndarray, to: int, saturate: bool) -> np.ndarray:
    dtype = {**FLOATS, **INTS}[to]
    if to in FLOAT8 and saturate:
        return numpy_helper.saturate_cast(x, dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is what is being tested
        return x.astype(dtype)


@pytest.fixture(scope="module")
def ours_and_expected() -> list[tuple[str, np.ndarray, np.ndarray]]:
    x, ints = _inputs()
    nodes, outputs, expected = [], [], []
    for to in FLOATS:
        for saturate in ([1, 0] if to in FLOAT8 else [1]):
            name = f"{TensorProto.DataType.Name(to)}_sat{saturate}"
            nodes.append(helper.make_node("Cast", ["x"], [name], to=to, saturate=saturate))
            # ...and back, through the decoder.
            nodes.append(helper.make_node("Cast", [name], [f"{name}_back"], to=TensorProto.FLOAT))
            outputs += [(name, to, x.shape), (f"{name}_back", TensorProto.FLOAT, x.shape)]
            narrow = _expected(x, to, bool(saturate))
            expected += [narrow, narrow.astype(np.float32)]
    for to, dtype in INTS.items():
        name = TensorProto.DataType.Name(to)
        nodes.append(helper.make_node("Cast", ["ints"], [name], to=to))
        nodes.append(helper.make_node("Cast", [name], [f"{name}_back"], to=TensorProto.FLOAT))
        outputs += [(name, to, ints.shape), (f"{name}_back", TensorProto.FLOAT, ints.shape)]
        narrow = ints.astype(dtype)
        expected += [narrow, narrow.astype(np.float32)]
    graph = helper.make_graph(
        nodes, "narrow",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape),
         helper.make_tensor_value_info("ints", TensorProto.FLOAT, ints.shape)],
        [helper.make_tensor_value_info(n, t, shape) for n, t, shape in outputs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)], ir_version=11)
    feeds = {"x": x, "ints": ints}
    with scratch_dir() as tmp:
        result = compile_model(model, tmp / "crate", CompileOptions(name="narrow", reference=(feeds, expected)))
        binary = toolchain.build_binary(result.out_dir, result.crate, profile="dev")
        ours = run_cli(binary, [x, ints], len(outputs), tmp, graph_output_dtypes(result.graph))
    return [(n, a, b) for (n, _, _), a, b in zip(outputs, ours, expected, strict=True)]


def test_every_cast_matches_ml_dtypes(ours_and_expected: list) -> None:
    assert len(ours_and_expected) == 2 * (len(FLOATS) + len(FLOAT8) + len(INTS))
    for name, ours, expected in ours_and_expected:
        assert ours.dtype == expected.dtype, name
        a, b = ours.astype(np.float64), expected.astype(np.float64)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        bad = np.flatnonzero(~same)
        first = bad[:5]
        assert bad.size == 0, f"{name}: {bad.size} differ, first at {first}: ours {a[first]}, ml_dtypes {b[first]}"
