"""PyTorch front end: nn.Module or torch.export program -> ONNX, via torch.onnx.export.

The exporter used is the dynamo one (torch >= 2.5), which emits opset 18 and
may wrap parts of the graph in ONNX functions; the loader inlines them.
torch is imported lazily: it is the optional `[torch]` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnx

from ...errors import ModelError

OPSET = 18


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ModelError("PyTorch models need torch: pip install 'onnx2rs[torch]' (see README)") from None
    return torch


def export(model: Any, example_inputs: Sequence[Any], dynamic_batch: bool = False) -> onnx.ModelProto:
    """Export an `nn.Module` (in eval mode) or an `ExportedProgram` to an ONNX model.

    `example_inputs` fix every input's shape; with `dynamic_batch` the leading
    dim of each input is exported as symbolic (onnx2rs fixes it to 1 unless
    told otherwise with `input_shapes`).
    """
    torch = _torch()
    if isinstance(model, torch.nn.Module):
        model.eval()
    dynamic = None
    if dynamic_batch:
        batch = torch.export.Dim("batch")
        dynamic = tuple({0: batch} for _ in example_inputs)
        # torch.export specialises a size-1 dim to the constant 1: trace with two samples.
        example_inputs = [torch.cat([x, x]) if x.shape[0] == 1 else x for x in example_inputs]
    try:
        program = torch.onnx.export(model, tuple(example_inputs), dynamo=True, opset_version=OPSET,
                                    dynamic_shapes=dynamic, verbose=False)
    except Exception as e:  # noqa: BLE001 - the exporter raises many types; the user needs its message
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"torch.onnx.export failed: {first}") from None
    return program.model_proto


def read_exported_program(path: Path) -> onnx.ModelProto:
    """Load a `torch.export.save` file (.pt2) and export it to ONNX with its own example inputs."""
    torch = _torch()
    try:
        program = torch.export.load(str(path))
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"{path}: not a readable torch.export program ({e})") from None
    args, kwargs = program.example_inputs or ((), {})
    if kwargs:
        raise ModelError(f"{path}: keyword example inputs are not supported")
    return export(program, args)
