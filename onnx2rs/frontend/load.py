"""Read an ONNX model, fix its input shapes, simplify it, unroll static Loops and lift it into the IR.

Only this module and `unroll.py` (which it calls) touch protobuf. Guarantees on return: the model
passed the ONNX checker, every value has a known dtype and a static shape, and
`Constant` nodes have become initializers.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

import networkx as nx
import numpy as np
import onnx
import onnx.inliner
import onnx.version_converter
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from .. import dtypes, limits
from ..errors import ModelError, UnsupportedError
from ..ir import IR_DOMAIN, LOOP_BEGIN, LOOP_END, Graph, Node, Value
from ..ops import NONDETERMINISTIC, lookup
from ..reference import evaluate_node, ort_compatible
from . import frameworks
from .branches import flatten_runtime_ifs, inline_constant_ifs, sort_subgraphs, taking
from .loops import flatten_runtime_loops
from .unroll import unroll_loops

log = logging.getLogger(__name__)

MIN_OPSET = 7


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
    if any(d < 1 for d in dims):
        raise ModelError(f"{flag}: every dim must be at least 1")
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
    model = infer_shapes(_copy(model), shapes, strict=False)
    g = model.graph
    static = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim]
              for i in [*g.input, *g.value_info] if _static(i)}
    known = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    kept = []
    for n in g.node:
        values: list[np.ndarray] | None = None
        if n.op_type == "Constant":
            known[n.output[0]] = _constant_value(n)
        elif n.op_type in ("Shape", "Size") and n.input[0] in static and not n.domain:
            dims = static[n.input[0]]
            a = _attrs(n)
            values = [np.array(dims[slice(a.get("start", 0), a.get("end"))], np.int64) if n.op_type == "Shape"
                      else np.array(int(np.prod(dims)), np.int64)]
        elif (n.op_type not in NONDETERMINISTIC and not n.domain and not any(a.g.node or a.graphs for a in n.attribute)
              and all(i in known for i in n.input if i)):
            try:
                values = evaluate_node(Node(n.name, n.op_type, list(n.input), list(n.output), _attrs(n)),
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


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
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
    bare = _copy(model)
    del bare.graph.value_info[:]
    for out in bare.graph.output:
        out.type.tensor_type.ClearField("shape")
    try:
        inferred = infer_shapes(bare, shapes, strict=False)
    except ModelError:
        return model
    known = {i.name: _dims(i) for i in [*inferred.graph.value_info, *inferred.graph.output]}
    out, dropped = _copy(model), []
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


def _static(info: onnx.ValueInfoProto | None) -> bool:
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
            if y is None or not _static(y) or _static(x):
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


def unsupported_ops(graph: onnx.GraphProto, rewritten: Collection[str], custom_only: bool = False
                    ) -> dict[str, list[str]]:
    """Every op type of `graph` and its subgraphs that onnx2rs neither compiles nor rewrites away
    (the default-domain op types of `rewritten`, which the driver gathers from the steps that remove
    them), labelled with its domain when not the default one, with the nodes that use it.
    `custom_only`: only ops of other domains (com.microsoft, custom), which no folding removes."""
    found: dict[str, list[str]] = {}
    for node in graph.node:
        default = node.domain in ("", "ai.onnx")
        if lookup(node.op_type, node.domain) is None and not (default and node.op_type in rewritten):
            if default and custom_only:
                continue
            label = node.op_type if default else f"{node.domain}.{node.op_type}"
            found.setdefault(label, []).append(node.name or node.output[0])
        for a in node.attribute:
            for g in [a.g] if a.type == onnx.AttributeProto.GRAPH else a.graphs:
                for label, names in unsupported_ops(g, rewritten, custom_only).items():
                    found.setdefault(label, []).extend(names)
    return found


def _refuse_if_unsupported(graph: onnx.GraphProto, value: str, rewritten: Collection[str]) -> None:
    """UnsupportedError naming every unsupported op, if `value` comes from one."""
    for node in graph.node:
        if value in node.output and lookup(node.op_type, node.domain) is None and node.op_type not in rewritten:
            raise UnsupportedError(unsupported_ops(graph, rewritten))


def _value(info: onnx.ValueInfoProto, unsupported: dict[str, list[str]]) -> Value | None:
    t = info.type.tensor_type
    dtype = dtypes.from_onnx(t.elem_type)
    if dtype is None:
        unsupported.setdefault(f"dtype {dtypes.onnx_name(t.elem_type)}", []).append(info.name)
        return None
    if not t.HasField("shape") or any(not d.HasField("dim_value") for d in t.shape.dim):
        raise ModelError(f"value {info.name!r} has no static shape after shape inference")
    return Value(info.name, dtype, tuple(d.dim_value for d in t.shape.dim))


def _why_not_static(graph: onnx.GraphProto, value: str) -> str:
    """The message for a value without a static shape: the node where static shapes end
    (its inputs all have one, its output does not) and the graph inputs it depends on."""
    infos = {i.name: i for i in [*graph.input, *graph.value_info, *graph.output]}
    weights = {t.name for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output if o}

    def static(v: str) -> bool:
        return v in weights or _static(infos.get(v))

    node = producer.get(value)
    while node is not None:
        upstream = next((producer[i] for i in node.input if i and not static(i) and i in producer), None)
        if upstream is None:
            break
        node = upstream
    if node is None:
        return f"value {value!r} has no static shape after shape inference"
    sources, frontier, seen = set(), [i for i in node.input if i], set()
    while frontier:
        v = frontier.pop()
        if v in seen:
            continue
        seen.add(v)
        if v in producer:
            frontier.extend(i for i in producer[v].input if i)
        elif v not in weights:
            sources.add(v)
    name = node.name or node.output[0]
    depends = f", computed from the input(s) {', '.join(repr(s) for s in sorted(sources))}" if sources else ""
    return (f"value {value!r} has no static shape after shape inference: static shapes end at the "
            f"{node.op_type} node {name!r}, whose output shape depends on values known only at run time"
            f"{depends} (fix them with --input-shape if they are shapes)")


def _attrs(node: onnx.NodeProto) -> dict:
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


def _constant_value(node: onnx.NodeProto) -> np.ndarray:
    attrs = _attrs(node)
    if "value" in attrs:
        return np.asarray(attrs["value"])
    for form, dtype in _CONSTANT_FORMS.items():
        if form in attrs:
            return np.asarray(attrs[form], dtype=dtype)
    raise ModelError(f"Constant node {node.name!r} uses an unsupported attribute form ({', '.join(attrs)})")


def _unique(name: str, fallback: str, taken: set[str]) -> str:
    base = name or fallback
    candidate, i = base, 1
    while candidate in taken:
        candidate, i = f"{base}_{i}", i + 1
    taken.add(candidate)
    return candidate


def to_ir(model: onnx.ModelProto, rewritten: Collection[str], phis: dict[str, int | None] | None = None) -> Graph:
    """Lift a shape-inferred model into the IR (Constant nodes become initializers).

    The `Where` nodes that compute `phis` (flattened Ifs, see `branches.py`) become `Phi` nodes,
    without the input that `phis` names (a branch that cannot run). Loops left after
    unrolling are flattened here (`loops.py`).
    """
    phis = phis or {}
    own = {n.name for n in model.graph.node if n.domain == IR_DOMAIN}
    model, _ = flatten_runtime_loops(model)
    structure = {n.name for n in model.graph.node if n.domain == IR_DOMAIN} - own
    g = model.graph
    unsupported: dict[str, list[str]] = {}
    initializers = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    values: dict[str, Value] = {}
    for info in [*g.input, *g.value_info, *g.output]:
        if info.name and info.name not in initializers:
            try:
                v = _value(info, unsupported)
            except ModelError:
                _refuse_if_unsupported(g, info.name, rewritten)  # the likelier cause, named as such
                raise ModelError(_why_not_static(g, info.name)) from None
            if v is not None:
                values[info.name] = v
    nodes: list[Node] = []
    taken: set[str] = set()
    for i, n in enumerate(g.node):
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            initializers[n.output[0]] = _constant_value(n)
            values.pop(n.output[0], None)
            continue
        name = _unique(n.name, f"{n.op_type}_{i}", taken)
        if n.domain == IR_DOMAIN and n.op_type in (LOOP_BEGIN, LOOP_END) and n.name in structure:
            nodes.append(Node(name, n.op_type, list(n.input), list(n.output), _attrs(n), n.domain))
            continue
        if n.domain == IR_DOMAIN:
            unsupported.setdefault(f"{n.domain}.{n.op_type}", []).append(n.name or n.output[0])
            continue
        if n.op_type == "Where" and n.output[0] in phis:
            nodes.append(_phi(name, n, values, phis[n.output[0]]))
            continue
        nodes.append(Node(name, n.op_type, list(n.input), list(n.output), _attrs(n), n.domain))
    for name, array in initializers.items():
        if dtypes.from_numpy(array.dtype) is None:
            unsupported.setdefault(f"dtype {array.dtype}", []).append(name)
    if unsupported:
        raise UnsupportedError(unsupported)
    read = {v for n in nodes for v in n.inputs} | {o.name for o in model.graph.output}
    for node in nodes:
        # An output nobody reads may stay untyped (old Dropout masks): it is left out.
        node.outputs = [o if o in read or o in values else "" for o in node.outputs]
        for o in node.outputs:
            if o and o not in values and o not in initializers:
                raise ModelError(f"node {node.name!r}: output {o!r} has no inferred type or shape")
        for o in node.inputs:
            if o and o not in values and o not in initializers:
                raise ModelError(f"node {node.name!r} reads {o!r}, which nothing defines")
    graph = Graph(
        name=g.name or "model",
        nodes=nodes,
        values=values,
        initializers=initializers,
        inputs=[i.name for i in g.input if i.name not in initializers],
        outputs=[o.name for o in g.output],
        opset=opset_of(model),
        doc=model.doc_string or g.doc_string,
    )
    graph.toposort()
    return graph


def _phi(name: str, node: onnx.NodeProto, values: dict[str, Value], missing: int | None) -> Node:
    """The Phi of a flattened If; ModelError when its branches disagree on the shape."""
    out = node.output[0]
    inputs = ["" if i == missing else v for i, v in enumerate(node.input)]
    shapes = {values[v].shape for v in inputs[1:] if v in values}
    if out in values and shapes - {values[out].shape}:
        sides = " and ".join(str(list(values[v].shape)) for v in inputs[1:] if v in values)
        raise ModelError(f"If output {out!r}: the branches give shapes {sides}; onnx2rs needs one static "
                         "shape for both (fix the inputs that decide it with --input-shape)")
    return Node(name, "Phi", inputs, list(node.output), {}, IR_DOMAIN)


def upgraded(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """`model` itself, or for opsets before MIN_OPSET a copy upgraded by onnx's version
    converter (which rewrites old forms such as Add's `broadcast` attribute)."""
    if opset >= MIN_OPSET:
        return model
    try:
        converted = onnx.version_converter.convert_version(model, MIN_OPSET)
    except Exception as err:  # the converter raises bare RuntimeErrors from C++
        raise ModelError(f"opset {opset} is too old: onnx2rs reads opset {MIN_OPSET} and newer, "
                         f"and onnx's version converter could not upgrade this model ({err})") from None
    return _per_channel_prelu(converted)


def _per_channel_prelu(model: onnx.ModelProto) -> onnx.ModelProto:
    """Before opset 7 a PRelu slope of shape [C] meant one slope per channel (axis 1); since
    then it broadcasts from the right. The version converter leaves it, so reshape it to
    [C, 1, ...] here."""
    inferred = onnx.shape_inference.infer_shapes(model)
    ranks = {i.name: len(i.type.tensor_type.shape.dim) for i in [*inferred.graph.input, *inferred.graph.value_info]
             if i.type.tensor_type.HasField("shape")}
    weights = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "PRelu" or node.input[1] not in weights:
            continue
        slope = numpy_helper.to_array(weights[node.input[1]])
        rank = ranks.get(node.input[0], 0)
        if slope.ndim == 1 and slope.size > 1 and rank >= 3:
            reshaped = slope.reshape(slope.size, *([1] * (rank - 2)))
            weights[node.input[1]].CopyFrom(numpy_helper.from_array(reshaped, node.input[1]))
    return model


def load(
    source: str | Path | onnx.ModelProto, input_shapes: dict[str, list[int]] | None = None,
    trust_code: bool = False, *, rewritten: Collection[str],
) -> tuple[onnx.ModelProto, Graph]:
    """Read, check, fix shapes, simplify and lift a model (`trust_code`: see `frameworks.to_onnx`).
    `rewritten`: the op types that a later step removes (see `unsupported_ops`).

    Returns the checked original model (for the reference run) and the IR.
    """
    model = read_model(source, trust_code)
    opset = opset_of(model)
    if opset > onnx.defs.onnx_opset_version():
        raise ModelError(
            f"opset {opset} is newer than this onnx package knows ({onnx.defs.onnx_opset_version()})"
        )
    if unsupported_ops(model.graph, rewritten, custom_only=True):
        # Shape inference and onnxsim stop at the first op of another domain: name them all now.
        raise UnsupportedError(unsupported_ops(model.graph, rewritten))
    shapes = fixed_input_shapes(model, input_shapes)
    simplified = simplify(drop_contradicted_shapes(upgraded(model, opset), shapes), shapes)
    simplified, phis = lift_control_flow(simplified, shapes)
    # Folding makes more shapes known, and so more contradictions visible.
    simplified = drop_contradicted_shapes(simplified, shapes)
    return model, to_ir(shapes_from_readers(infer_shapes(simplified, shapes)), rewritten, phis)


def _static_shapes(model: onnx.ModelProto, shapes: dict[str, list[int]]) -> dict[str, list[int]]:
    """The values whose shape is static by (lenient) shape inference; none for a model without
    Scan, the only unrolling that needs them."""
    if not any(n.op_type == "Scan" for n in model.graph.node):
        return {}
    try:
        inferred = infer_shapes(_copy(model), shapes, strict=False)
    except ModelError:
        return {}
    g = inferred.graph
    known = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim]
             for i in [*g.input, *g.value_info, *g.output] if _static(i)}
    known |= {t.name: list(t.dims) for t in g.initializer}
    return known


def _runs(model: onnx.ModelProto, name: str, side: str, shapes: dict[str, list[int]]) -> bool:
    """Whether the If whose first output is `name` can take `side` at the fixed shapes: the
    model with that branch inlined loads through shape inference."""
    try:
        trial, _ = lift_control_flow(simplify(taking(model, name, side), shapes), shapes)
        infer_shapes(trial, shapes)
    except ModelError as e:
        log.info("the If giving %r cannot take its %s branch at these shapes: %s", name, side, e)
        return False
    return True


# Ifs nest (silero-vad's sample-rate If holds the shape-check Ifs of each branch): each
# round lifts one level.
MAX_NESTING = 16


def lift_control_flow(model: onnx.ModelProto, shapes: dict[str, list[int]]
                      ) -> tuple[onnx.ModelProto, dict[str, int | None]]:
    """Inline constant Ifs, unroll static Loops and flatten run-time Ifs, one nesting level per
    round, folding in between; returns the flat model and the names of its Phi values.

    If conditions and trip counts are constants only once shapes are fixed and folded, and
    a branch that the shapes rule out may not even type-check: an If is flattened only when
    folding has nothing left to decide, and a branch that does not type-check at the fixed
    shapes (silero-vad's 8 kHz branch at 512 samples) is left out, to fail at run time if taken.
    """
    phis: dict[str, int | None] = {}
    for _ in range(MAX_NESTING):
        sort_subgraphs(model.graph)  # onnxsim writes branches back out of dataflow order
        model, inlined = inline_constant_ifs(model)
        model, unrolled = unroll_loops(model, _static_shapes(model, shapes))
        flattened = 0
        if not (inlined or unrolled):
            model, new_phis, flattened = flatten_runtime_ifs(model, lambda m, name, side: _runs(m, name, side, shapes))
            phis |= new_phis
        if not (inlined or unrolled or flattened):
            break
        log.info("inlined %d If(s), unrolled %d Loop(s), flattened %d If(s)", inlined, unrolled, flattened)
        model = simplify(model, shapes)
    return model, phis
