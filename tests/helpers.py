"""Building small ONNX models in tests, and running compiled crates on them."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from onnx2rs import CompileOptions, compile_model, toolchain
from onnx2rs.reference import run_onnxruntime
from onnx2rs.tools.verify import graph_output_dtypes, run_cli

IR_VERSION = 8  # onnxruntime 1.31 refuses IR > 13; onnx 1.23 writes 14 by default


def make_model(
    nodes: list[onnx.NodeProto],
    inputs: dict[str, np.ndarray],
    outputs: list[str],
    initializers: dict[str, np.ndarray] | None = None,
    opset: int = 17,
    name: str = "test",
) -> onnx.ModelProto:
    """A model over `nodes` whose input shapes and dtypes come from example arrays."""
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
         for k, v in inputs.items()],
        [helper.make_empty_tensor_value_info(o) for o in outputs],
        [onnx.numpy_helper.from_array(v, k) for k, v in (initializers or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=IR_VERSION)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    # Give graph outputs the inferred types, as exporters do.
    known = {v.name: v for v in inferred.graph.value_info}
    for out in model.graph.output:
        if out.name in known:
            out.CopyFrom(known[out.name])
    return model


def shared_libraries(binary: Path) -> list[str]:
    """The shared libraries an ELF `binary` asks the loader for (its DT_NEEDED entries), read by
    binutils' `readelf`, which every machine that links Rust has."""
    dynamic = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True,
                             check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)


def compile_and_run(
    model: onnx.ModelProto, feeds: dict[str, np.ndarray], workdir: Path
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Compile `model`, run its CLI on `feeds`; return (ours, ONNX Runtime's) outputs."""
    theirs = run_onnxruntime(model, feeds)
    # The crate's own tests use these feeds too (random ones could be invalid operands, e.g. an axis).
    options = CompileOptions(name="cases", reference=(feeds, theirs))
    result = compile_model(model, workdir / "crate", options)
    binary = toolchain.build_binary(result.out_dir, result.crate, profile="dev")
    if sys.platform == "linux":  # the runtime's transcendental functions are the libm crate's (pure Rust)
        libraries = shared_libraries(binary)
        assert any(lib.startswith("libc.so") for lib in libraries), libraries
        assert not any(lib.startswith("libm.so") for lib in libraries), libraries
    # Every generated crate is held to the same bar as hand-written code.
    toolchain.cargo(["clippy", "--quiet", "--", "-D", "warnings"], result.out_dir)
    toolchain.cargo(["fmt", "--check"], result.out_dir)
    ours = run_cli(binary, [feeds[n] for n in result.graph.inputs], len(model.graph.output), workdir,
                   graph_output_dtypes(result.graph))
    return ours, theirs


def assert_matches_onnxruntime(model: onnx.ModelProto, feeds: dict[str, np.ndarray], tolerance: float) -> str:
    """Compile and run `model`, assert every output is within `tolerance` of ONNX Runtime's
    (absolute and relative), and return the generated `src/model.rs` for further checks."""
    with scratch_dir() as workdir:
        ours, theirs = compile_and_run(model, feeds, workdir)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)
        return (workdir / "crate" / "src" / "model.rs").read_text()


def assert_crate_tests_pass(crate_dir: Path, open_dims: bool = False) -> None:
    """Run a generated crate's own tests in one cargo call: the four in `tests/reference.rs`
    (outputs recorded from ONNX Runtime at build time, bad inputs and weights), the zero-allocation test, and
    8 threads x 1000 calls sharing one model. A crate built with `open_dims` has one more of
    each of the first two: one session at every size of its reference sets, twice each, and
    no allocation after the first call at each size."""
    tests = ["--test", "reference", "--test", "allocations", "--test", "threads"]
    # In release, as the crate's binary was just built: the runtime and ndarray are then
    # compiled once for the whole suite, not again in the debug profile.
    output = toolchain.cargo(["test", "--release", "--quiet", *tests], crate_dir)
    passed = [int(n) for n in re.findall(r"test result: ok\. (\d+) passed", output)]
    assert sorted(passed) == ([1, 2, 5] if open_dims else [1, 1, 4]), output


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A temporary folder for one compile-and-run, removed afterwards (crates are large)."""
    with tempfile.TemporaryDirectory(prefix="onnx2rs-test-") as tmp:
        yield Path(tmp)


def onnx_shapes(model: onnx.ModelProto, inputs: dict[str, list[int]]) -> dict[str, tuple[int, ...]]:
    """ONNX's own (strict) shape inference at fixed input sizes: the reference."""
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    for inp in fixed.graph.input:
        if inp.name in inputs:
            inp.type.tensor_type.shape.ClearField("dim")
            for d in inputs[inp.name]:
                inp.type.tensor_type.shape.dim.add().dim_value = d
    inferred = onnx.shape_inference.infer_shapes(fixed, strict_mode=True, data_prop=True)
    g = inferred.graph
    infos = [i for i in [*g.value_info, *g.output] if i.type.tensor_type.HasField("shape")]
    return {i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim)
            for i in infos if all(d.HasField("dim_value") for d in i.type.tensor_type.shape.dim)}


def every_value_shape(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    """The shape of every top-level node output, as ONNX Runtime computes it."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {i.name: i.type.tensor_type.elem_type for i in [*inferred.graph.value_info, *inferred.graph.output]}
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    known = {o.name for o in exposed.graph.output}
    names = [o for n in model.graph.node for o in n.output if o and o not in known and types.get(o)]
    exposed.graph.output.extend(helper.make_tensor_value_info(o, types[o], None) for o in names)
    values = run_onnxruntime(exposed, feeds)
    return {o.name: v.shape for o, v in zip(exposed.graph.output, values, strict=True)}
