"""`onnx2rs verify`: build the crate, run it on random inputs and compare with ONNX Runtime."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import reference, toolchain
from ..build import CompileOptions, compile_model
from ..dtypes import DType, from_storage, to_storage
from ..errors import ToolchainError
from ..ir import Graph


@dataclass
class VerifyResult:
    """Outputs of ours and of the reference, and how far apart they are. `reference` names
    the engine: ONNX Runtime, or onnx's evaluator for opsets ONNX Runtime refuses."""

    names: list[str]
    ours: list[np.ndarray]
    theirs: list[np.ndarray]
    mismatches: list[reference.Mismatch]
    reference: str = reference.ONNXRUNTIME

    @property
    def ok(self) -> bool:
        """True if every output is within tolerance."""
        return all(m.ok for m in self.mismatches)


def run_cli(
    binary: Path, inputs: list[np.ndarray], n_outputs: int, workdir: Path,
    output_dtypes: list[DType] | None = None,
) -> list[np.ndarray]:
    """Run a generated CLI on `inputs` through .npy files and read its outputs.

    Narrow element types cross the files in their stored form (see `dtypes.to_storage`);
    `output_dtypes` turns the outputs back into them."""
    in_paths = [workdir / f"in_{i}.npy" for i in range(len(inputs))]
    out_paths = [workdir / f"out_{i}.npy" for i in range(n_outputs)]
    for path, array in zip(in_paths, inputs, strict=True):
        np.save(path, to_storage(array))
    result = subprocess.run([str(binary), *map(str, in_paths + out_paths)], capture_output=True, text=True)
    if result.returncode != 0:
        raise ToolchainError(f"the generated model failed: {result.stderr.strip()}")
    outputs = [np.load(p) for p in out_paths]
    if output_dtypes is not None:
        outputs = [from_storage(a, d) for a, d in zip(outputs, output_dtypes, strict=True)]
    return outputs


def graph_output_dtypes(graph: Graph) -> list[DType]:
    """The element types of `graph`'s outputs, in order (for `run_cli`)."""
    return [graph.value(o).dtype for o in graph.outputs]


def verify(
    source: str | Path, options: CompileOptions | None = None, seed: int = 1, atol: float = 1e-4
) -> VerifyResult:
    """Compile `source`, run it on fresh random inputs, and compare with ONNX Runtime."""
    options = options or CompileOptions()
    with tempfile.TemporaryDirectory(prefix="onnx2rs-verify-") as tmp:
        tmpdir = Path(tmp)
        result = compile_model(source, tmpdir / "crate", options)
        binary = toolchain.build_binary(result.out_dir, result.crate)
        feeds = reference.sample_inputs(result.graph, seed)
        theirs, engine = reference.run_reference(result.model, feeds)
        ours = run_cli(binary, [feeds[n] for n in result.graph.inputs], len(theirs), tmpdir,
                       graph_output_dtypes(result.graph))
    names = list(result.graph.outputs)
    mismatches = [
        reference.compare(n, a, b, atol=atol, rtol=atol) for n, a, b in zip(names, ours, theirs, strict=True)
    ]
    return VerifyResult(names, ours, theirs, mismatches, engine)
