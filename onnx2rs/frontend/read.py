"""Read an ONNX model from a file or a ModelProto: checked, external data kept inside its folder.

The model that comes out passed the ONNX checker, its dataflow is sound (every value defined
once, before use) and its initializers are well-formed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import networkx as nx
import numpy as np
import onnx
import onnx.inliner
import onnx.version_converter
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from ..errors import ModelError
from . import frameworks
from .branches import sort_subgraphs

log = logging.getLogger(__name__)

def read_model(source: str | Path | onnx.ModelProto, trust_code: bool = False) -> onnx.ModelProto:
    """Parse (or convert, for a framework file) and check a model; ModelError says what is wrong.

    Local ONNX functions (the torch dynamo exporter writes them) are inlined,
    so the rest of onnx2rs sees one flat graph.
    """
    model = source if isinstance(source, onnx.ModelProto) else _read_file(Path(source), trust_code)
    if not model.graph.node:
        raise ModelError("the model has no nodes (is this an ONNX file?)")
    if (opset := opset_of(model)) < 1:
        raise ModelError(f"opset {opset} is not an ONNX opset version (they start at 1)")
    _check_dataflow(model.graph)
    _check_initializers(model.graph)
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, UnicodeDecodeError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelError(f"the model fails the ONNX checker: {first}") from None
    if model.functions:
        model = onnx.inliner.inline_local_functions(model)
    sort_subgraphs(model.graph)
    return model


def _check_dataflow(graph: onnx.GraphProto) -> None:
    """Every value a node reads is defined, and the nodes form no cycle; nodes stored out
    of order (some exporters write them so) are put in order instead of refused."""
    defined = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    producers = {out: i for i, node in enumerate(graph.node) for out in node.output if out}
    for node in graph.node:
        for name in node.input:
            if name and name not in defined and name not in producers:
                raise ModelError(f"node {node.name or node.op_type!r} ({node.op_type}) reads {name!r}, "
                                 "which no node, graph input or initializer defines")
    deps = nx.DiGraph()
    deps.add_nodes_from(range(len(graph.node)))
    deps.add_edges_from((producers[name], i) for i, node in enumerate(graph.node)
                        for name in node.input if name in producers)
    try:
        order = list(nx.lexicographical_topological_sort(deps))
    except nx.NetworkXUnfeasible:
        cycle = [graph.node[a].name or graph.node[a].op_type for a, _ in nx.find_cycle(deps)]
        raise ModelError(f"the graph has a cycle: {' -> '.join(repr(n) for n in [*cycle, cycle[0]])}") from None
    if order != sorted(order):
        nodes = [graph.node[i] for i in order]
        del graph.node[:]
        graph.node.extend(nodes)


def _check_initializers(graph: onnx.GraphProto) -> None:
    """Every initializer has a known element type and as many values as its dims say."""
    for tensor in graph.initializer:
        try:
            numpy_helper.to_array(tensor)
        except (KeyError, ValueError, TypeError, RuntimeError) as e:
            raise ModelError(f"initializer {tensor.name!r} is malformed (dtype {tensor.data_type}, "
                             f"dims {list(tensor.dims)}): {type(e).__name__}: {e}") from None


def _external_data_inside(model: onnx.ModelProto, folder: Path) -> None:
    """Refuse external-data locations that leave the model's folder (absolute paths,
    `..`, or symlinks pointing out): a model file must not read arbitrary files."""
    from onnx.external_data_helper import _get_all_tensors

    root = folder.resolve()
    for tensor in _get_all_tensors(model):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        target = (root / location).resolve()
        if Path(location).is_absolute() or ".." in Path(location).parts or not target.is_relative_to(root):
            raise ModelError(f"tensor {tensor.name!r}: external data {location!r} lies outside the "
                             f"model's folder {str(folder)!r}; refusing to read it")
        if not target.is_file():
            what = "is missing" if not target.exists() else "is not a file"
            raise ModelError(f"tensor {tensor.name!r}: its external data file {location!r} {what} (looked in "
                             f"{str(folder)!r}); copy it next to the model")


def _has_external_data(model: onnx.ModelProto) -> bool:
    """Whether any tensor (initializers, Constant attributes, subgraphs) lives in another file."""
    from onnx.external_data_helper import _get_all_tensors

    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in _get_all_tensors(model))


def _read_file(path: Path, trust_code: bool = False) -> onnx.ModelProto:
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    # A Keras `None` batch stays symbolic: batching.py then decides whether the crate takes any batch.
    converted = frameworks.to_onnx(path, dynamic_batch=True, trust_code=trust_code)
    if converted is not None:
        return converted
    if not path.is_file():
        raise ModelError(f"{path}: not a file")
    try:
        model = onnx.load(str(path), load_external_data=False)
        if _has_external_data(model):
            _external_data_inside(model, path.parent)
            onnx.load_external_data_for_model(model, str(path.parent))
    except (DecodeError, RuntimeError, ValueError, OSError) as e:
        raise ModelError(f"{path}: not a readable ONNX model ({e})") from None
    return model


def opset_of(model: onnx.ModelProto) -> int:
    """The version of the default ONNX operator set the model imports."""
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return imp.version
    raise ModelError("the model does not import the default ONNX opset")


def node_attrs(node: onnx.NodeProto) -> dict:
    """A node's attributes as Python values: strings decoded, tensors as numpy arrays."""
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8", errors="replace")
        elif isinstance(v, onnx.TensorProto):
            v = numpy_helper.to_array(v)
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode("utf-8", errors="replace") for x in v]
        out[a.name] = v
    return out


# Constant's scalar and list forms, with the element type each one means.
_CONSTANT_FORMS = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64,
                   "value_ints": np.int64}


def constant_value(node: onnx.NodeProto) -> np.ndarray:
    """The value a `Constant` node holds, in any of its attribute forms."""
    attrs = node_attrs(node)
    if "value" in attrs:
        return np.asarray(attrs["value"])
    for form, dtype in _CONSTANT_FORMS.items():
        if form in attrs:
            return np.asarray(attrs[form], dtype=dtype)
    raise ModelError(f"Constant node {node.name!r} uses an unsupported attribute form ({', '.join(attrs)})")
