"""Fix input shapes, simplify with onnx-simplifier, fold shapes and infer every value's shape.

Guarantee: the model that comes out has a static shape for every value it can, and declared
shapes that contradict inference at the user's input shapes are dropped (with a warning).
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
import onnx.inliner
import onnx.version_converter
from onnx import numpy_helper

from .. import limits
from ..errors import ModelError
from ..ir import Node
from ..ops import NONDETERMINISTIC
from ..reference import evaluate_node, ort_compatible
from .read import constant_value, node_attrs, opset_of

log = logging.getLogger(__name__)

def fixed_input_shapes(
    model: onnx.ModelProto, overrides: dict[str, list[int]] | None
) -> dict[str, list[int]]:
    """A static shape for every graph input: the user's, else the model's own.

    A symbolic leading dim (the batch) becomes 1; any other symbolic dim needs
    an override, and ModelError says which.
    """
    overrides = dict(overrides or {})
    weights = {t.name for t in model.graph.initializer}
    shapes, open_dims = {}, []
    for inp in model.graph.input:
        if inp.name in weights:
            continue
        if inp.name in overrides:
            shapes[inp.name] = _checked_override(inp, list(overrides.pop(inp.name)))
            continue
        dims = []
        for i, d in enumerate(inp.type.tensor_type.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(d.dim_value)
            elif i == 0:
                dims.append(1)
            else:
                open_dims.append(inp.name)
                dims.append(d.dim_param or "?")
        shapes[inp.name] = dims
    if open_dims:
        flags = " ".join(f"--input-shape {n}={','.join(map(str, shapes[n]))}" for n in dict.fromkeys(open_dims))
        raise ModelError(f"symbolic dims need a size: pass {flags} (with numbers for the names)")
    if overrides:
        raise ModelError(f"--input-shape names no model input: {sorted(overrides)}")
    return shapes


def _checked_override(inp: onnx.ValueInfoProto, dims: list[int]) -> list[int]:
    """`--input-shape` for `inp`, checked against the rank and the fixed dims the model declares."""
    flag = f"--input-shape {inp.name}={','.join(map(str, dims))}"
    if any(d < 0 for d in dims):  # 0 is allowed: an empty tensor is a valid ONNX value
        raise ModelError(f"{flag}: no dim may be negative")
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(inp.type.tensor_type.elem_type).itemsize
    except (KeyError, TypeError, ValueError):
        itemsize = 1  # an unknown type is refused later, with the others
    limits.check_fits(f"{flag}: the input alone", limits.tensor_bytes(dims, itemsize))
    t = inp.type.tensor_type
    if not t.HasField("shape"):
        return dims
    declared = t.shape.dim
    if len(declared) != len(dims):
        raise ModelError(f"{flag}: input {inp.name!r} has rank {len(declared)}, not {len(dims)}")
    for axis, (d, want) in enumerate(zip(declared, dims, strict=True)):
        if d.HasField("dim_value") and d.dim_value > 0 and d.dim_value != want:
            raise ModelError(f"{flag}: the model fixes axis {axis} of {inp.name!r} at {d.dim_value}")
    return dims


def simplify(model: onnx.ModelProto, shapes: dict[str, list[int]]) -> onnx.ModelProto:
    """Fold constants and fix shapes with onnxsim; fall back to the unsimplified model."""
    try:
        # BatchNormalization is folded by passes/fuse.py, which records it (`analyze` shows it).
        simplified, _ = _onnxsim_simplify()(
            ort_compatible(model), overwrite_input_shapes=shapes, check_n=0, skip_fuse_bn=True
        )
        return simplified
    except Exception as e:  # noqa: BLE001 - onnxsim raises anything; simplification is optional
        log.warning("onnxsim could not simplify the model (%s); folding shapes without it", e)
        return fold_shapes(model, shapes)


def _onnxsim_simplify():
    """onnxsim's `simplify`, imported without the package's `__init__`, which imports its
    quantisation toolkits (and torch, when installed): 2.3 s of a 5 s build, for nothing
    we use. If onnxsim was imported already, that import is reused."""
    import importlib.util
    import sys
    import types

    if "onnxsim" not in sys.modules and (spec := importlib.util.find_spec("onnxsim")) is not None:
        package = types.ModuleType("onnxsim")
        package.__path__ = list(spec.submodule_search_locations or [])
        sys.modules["onnxsim"] = package
    # NOTE: onnxsim imports sympy when it can, only to print symbolic MAC counts; where torch
    # brought sympy in, that was 0.4-0.65 s of every build. A None entry makes that optional
    # import fail for onnxsim alone; the entry goes again, so a later `import sympy` works.
    blocked = "sympy" not in sys.modules
    if blocked:
        sys.modules["sympy"] = None
    try:
        from onnxsim.onnx_simplifier import simplify as onnxsim_simplify
    finally:
        if blocked:
            del sys.modules["sympy"]
    return onnxsim_simplify


def fold_shapes(model: onnx.ModelProto, shapes: dict[str, list[int]]) -> onnx.ModelProto:
    """What onnxsim does that the rest of the pipeline needs, for models it cannot take
    (opsets ONNX Runtime refuses): Shape and Size of statically shaped values, and every
    node whose inputs are all constants, become initializers (evaluated by onnx's
    reference implementation), so that shape inference sees through shape computations."""
    model = infer_shapes(copy_model(model), shapes, strict=False)
    g = model.graph
    static = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim]
              for i in [*g.input, *g.value_info] if is_static(i)}
    known = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    kept = []
    for n in g.node:
        values: list[np.ndarray] | None = None
        if n.op_type == "Constant":
            known[n.output[0]] = constant_value(n)
        elif n.op_type in ("Shape", "Size") and n.input[0] in static and not n.domain:
            dims = static[n.input[0]]
            a = node_attrs(n)
            values = [np.array(dims[slice(a.get("start", 0), a.get("end"))], np.int64) if n.op_type == "Shape"
                      else np.array(int(np.prod(dims)), np.int64)]
        elif (n.op_type not in NONDETERMINISTIC and not n.domain and not any(a.g.node or a.graphs for a in n.attribute)
              and all(i in known for i in n.input if i)):
            try:
                values = evaluate_node(Node(n.name, n.op_type, list(n.input), list(n.output), node_attrs(n)),
                                       [known[i] if i else None for i in n.input], opset_of(model))
            except Exception as e:  # noqa: BLE001 - leave the node to the compiler and its clear errors
                log.info("could not fold %s %r: %s", n.op_type, n.name, e)
        if values is None:
            kept.append(n)
            continue
        for name, value in zip(n.output, values, strict=False):
            known[name] = value
            g.initializer.append(numpy_helper.from_array(value, name))
    del g.node[:]
    g.node.extend(kept)
    return model


def copy_model(model: onnx.ModelProto) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return copy


def infer_shapes(model: onnx.ModelProto, shapes: dict[str, list[int]], strict: bool = True) -> onnx.ModelProto:
    """Write the fixed input shapes into the model and run (strict) ONNX shape inference."""
    for inp in model.graph.input:
        if inp.name in shapes:
            dims = inp.type.tensor_type.shape.dim
            del dims[:]
            for d in shapes[inp.name]:
                dims.add().dim_value = d
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=strict, data_prop=True)
    except (onnx.shape_inference.InferenceError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0]
        raise ModelError(f"shape inference failed: {first}") from None


def _dims(info: onnx.ValueInfoProto) -> list[int | None] | None:
    t = info.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]


def drop_contradicted_shapes(model: onnx.ModelProto, shapes: dict[str, list[int]]) -> onnx.ModelProto:
    """A copy of `model` without the declared output and `value_info` shapes that shape inference
    from the fixed input shapes contradicts (PP-OCR's classifier declares `[-1, 2]`), as ONNX
    Runtime ignores them; one warning names them. Declared input shapes stay."""
    bare = copy_model(model)
    del bare.graph.value_info[:]
    for out in bare.graph.output:
        out.type.tensor_type.ClearField("shape")
    try:
        inferred = infer_shapes(bare, shapes, strict=False)
    except ModelError:
        return model
    known = {i.name: _dims(i) for i in [*inferred.graph.value_info, *inferred.graph.output]}
    out, dropped = copy_model(model), []
    for info in [*out.graph.output, *out.graph.value_info]:
        declared, found = _dims(info), known.get(info.name)
        if declared is None or found is None:
            continue
        clash = len(declared) != len(found) or any(
            d is not None and (d < 0 or (f is not None and d != f)) for d, f in zip(declared, found, strict=False))
        if clash:
            info.type.tensor_type.ClearField("shape")
            dropped.append(f"{info.name} {[d if d is not None else '?' for d in declared]}")
    if dropped:
        log.warning("ignoring declared shape(s) that contradict shape inference at these input shapes "
                    "(as ONNX Runtime does): %s", ", ".join(dropped))
    return out


# Ops whose output has the shape of their first input: what `shapes_from_readers` may look through.
_SAME_SHAPE = frozenset({
    "Cast", "CastLike", "Identity", "Not", "Relu", "Sigmoid", "Tanh", "Abs", "Neg", "Exp", "Log", "Sqrt",
    "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Erf", "Softplus", "Softsign", "Elu", "Selu", "Celu",
    "LeakyRelu", "HardSigmoid", "HardSwish", "Gelu", "Mish", "IsNaN", "IsInf",
})


def is_static(info: onnx.ValueInfoProto | None) -> bool:
    t = info.type.tensor_type if info is not None else None
    return t is not None and t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim)


def shapes_from_readers(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give a value that shape inference left without a static shape the shape of the
    same-shape op (Cast, Sqrt, ...) that reads it, when that op's output is static.

    This recovers chains such as ReduceSum(x, run-time axes) -> Sqrt -> declared output,
    whose reduction the runtime then checks against that shape.
    """
    g = model.graph
    infos = {i.name: i for i in [*g.input, *g.value_info, *g.output]}
    changed = True
    while changed:
        changed = False
        for node in reversed(g.node):
            if node.op_type not in _SAME_SHAPE or not node.input or not node.output:
                continue
            x, y = infos.get(node.input[0]), infos.get(node.output[0])
            if y is None or not is_static(y) or is_static(x):
                continue
            if x is None:
                x = g.value_info.add()
                x.name = node.input[0]
                x.type.tensor_type.elem_type = 0
                infos[x.name] = x
            if not x.type.tensor_type.elem_type:
                continue  # its dtype is unknown too: leave it to the error below
            shape = x.type.tensor_type.shape
            shape.Clear()
            for d in y.type.tensor_type.shape.dim:
                shape.dim.add().dim_value = d.dim_value
            changed = True
    return model
