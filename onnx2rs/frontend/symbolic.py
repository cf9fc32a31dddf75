"""Symbolic shapes: every value's shape as an expression of the model's open dims (P11).

An open dim is one the model leaves symbolic (a `dim_param`, or a dim with neither value nor
name) or one that `--dynamic` names; a pinned dim is a number. ONNX Runtime's symbolic shape
inference does the arithmetic, in sympy: products, sums and the floor divisions of convolution,
pooling, slicing and resizing, with the values of shape tensors (Shape, Gather, Concat)
propagated into Reshape and Expand. This module names the open dims as identifiers, so that
its expressions parse back as sympy over them, marks a dim it could not express as None, and
reports the equalities between open dims that the model implies (an Add of `[H]` and `[W]`
holds only where H = W).

The expressions assume inputs large enough for every slice and kernel (a slice `1:-1` of H is
H - 2 long, not max(0, H - 2)): sizes at which a dim comes out negative are refused by name.

Guarantee: at input sizes that satisfy `constraints` and that `at` accepts, each expression equals
the dim that ONNX shape inference gives at those sizes; None marks a dim this analysis does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import onnx

from ..errors import ModelError
from ..ir import Graph, is_static

if TYPE_CHECKING:
    import sympy

# One dim: a number, a sympy expression of the open dims, or None (not known).
Dim: TypeAlias = "int | sympy.Expr | None"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class OpenDims:
    """The graph inputs' shapes with each open dim named: an identifier where the dim is open."""

    inputs: dict[str, tuple[int | str, ...]]
    # The model's own label of each open dim ("p2o.DynamicDimension.1"), by identifier.
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """The open dims' identifiers, in order of first appearance."""
        return list(dict.fromkeys(d for dims in self.inputs.values() for d in dims if isinstance(d, str)))


def identifier(label: str, taken: set[str]) -> str:
    """A Python and Rust identifier for a dim label, unlike every name in `taken`:
    "p2o.DynamicDimension.1" becomes "p2o_dynamicdimension_1"."""
    base = re.sub(r"[^a-z0-9_]+", "_", label.lower()).strip("_") or "dim"
    if base[0].isdigit():
        base = f"d_{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def open_dims(model: onnx.ModelProto, dynamic: dict[str, list[int | str]] | None = None) -> OpenDims:
    """Name the open dims of `model`'s inputs: those of `dynamic` (`--dynamic x=N,3,H,W`: a
    number pins a dim, an identifier opens it), else the model's `dim_param`s (one label is
    one dim across inputs) and its nameless dims (`<input>_<axis>`)."""
    dynamic = dict(dynamic or {})
    weights = {t.name for t in model.graph.initializer}
    inputs: dict[str, tuple[int | str, ...]] = {}
    labels: dict[str, str] = {}
    by_label: dict[str, str] = {}
    for inp in model.graph.input:
        if inp.name in weights:
            continue
        declared = list(inp.type.tensor_type.shape.dim)
        if inp.name in dynamic:
            given = dynamic.pop(inp.name)
            if len(given) != len(declared):
                raise ModelError(f"--dynamic {inp.name}: input {inp.name!r} has rank {len(declared)}, "
                                 f"not {len(given)}")
            dims: list[int | str] = []
            for axis, (d, g) in enumerate(zip(declared, given, strict=True)):
                if isinstance(g, str) and not _IDENTIFIER.fullmatch(g):
                    raise ModelError(f"--dynamic {inp.name}: {g!r} is neither a number nor a dim name")
                if d.HasField("dim_value") and d.dim_value > 0 and g != d.dim_value:
                    raise ModelError(f"--dynamic {inp.name}: the model fixes axis {axis} at {d.dim_value}")
                if isinstance(g, str):
                    labels.setdefault(g, g)
                dims.append(g)
            inputs[inp.name] = tuple(dims)
            continue
        dims = []
        for axis, d in enumerate(declared):
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(d.dim_value)
                continue
            # A label without a letter ("?", "-1") names no dim: the input and axis do.
            label = d.dim_param if re.search("[A-Za-z]", d.dim_param) else f"{inp.name}_{axis}"
            if label not in by_label:
                by_label[label] = identifier(label, set(labels) | set(by_label.values()))
                labels[by_label[label]] = label
            dims.append(by_label[label])
        inputs[inp.name] = tuple(dims)
    if dynamic:
        raise ModelError(f"--dynamic names no model input: {sorted(dynamic)}")
    return OpenDims(inputs, labels)


@dataclass
class SymbolicShapes:
    """Every value's symbolic shape, and what the model requires of the open dims."""

    dims: OpenDims
    shapes: dict[str, tuple[Dim, ...]]
    # Equalities the model implies between an open dim and another or a number (H = W).
    constraints: dict[str, int | str] = field(default_factory=dict)
    # The values of the integer tensors computed from shapes (Shape, and Gather, Concat, ...
    # over it), element by element: a Reshape's target [N, 4, -1].
    values: dict[str, list[Dim]] = field(default_factory=dict)
    # Equalities between two expressions that the model needs and the inference assumed when it
    # merged them (the upsampled 2*floor(H/32) + 2 that an Add meets with floor(H/16) + 1).
    equalities: list[tuple[sympy.Expr, sympy.Expr]] = field(default_factory=list)

    def at(self, sizes: dict[str, int]) -> dict[str, tuple[int | None, ...]]:
        """Every shape with the open dims set to `sizes` (by identifier); ModelError if the sizes
        miss an open dim, break a constraint, or leave some value a negative dim."""
        import sympy

        if missing := [k for k in self.dims.names if k not in sizes]:
            raise ModelError(f"no size for the open dim(s) {', '.join(missing)}")
        for k, v in self.constraints.items():
            if sizes.get(k) != (sizes.get(v) if isinstance(v, str) else v):
                raise ModelError(f"the model requires {k} = {v}")
        subs = {sympy.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()}
        for lhs, rhs in self.equalities:
            if (a := _evaluate(lhs, subs)) != (b := _evaluate(rhs, subs)):
                raise ModelError(f"input sizes {sizes} do not fit the model: it needs {lhs} = {rhs}, "
                                 f"which come to {a} and {b}")
        shapes = {name: tuple(_evaluate(d, subs) for d in shape) for name, shape in self.shapes.items()}
        if small := next((name for name, shape in shapes.items() if any(d is not None and d < 0 for d in shape)), None):
            raise ModelError(f"input sizes {sizes} are too small for the model: {small!r} would have "
                             f"shape {list(shapes[small])}")
        return shapes

    def unknown(self) -> list[str]:
        """The values with a dim this analysis could not express."""
        return [name for name, shape in self.shapes.items() if any(d is None for d in shape)]


def sizes_of(dims: OpenDims, shapes: dict[str, list[int]]) -> dict[str, int]:
    """The size of each open dim in the input `shapes`."""
    return {d: n for name, given in dims.inputs.items() if name in shapes
            for d, n in zip(given, shapes[name], strict=True) if isinstance(d, str)}


def with_shapes_at(model: onnx.ModelProto, at: dict[str, tuple[int | None, ...]]) -> onnx.ModelProto:
    """A copy of `model` whose `value_info` gives each value its symbolic shape evaluated at the
    probe (`at`: `SymbolicShapes.at`), where ONNX's own inference would stop at shape arithmetic."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    known = {i.name for i in [*out.graph.input, *out.graph.output]} | {t.name for t in out.graph.initializer}
    types = {i.name: i.type.tensor_type.elem_type for i in _inferred_types(out)}
    del out.graph.value_info[:]
    for name, shape in at.items():
        if name not in known and None not in shape and types.get(name):
            out.graph.value_info.append(onnx.helper.make_tensor_value_info(name, types[name], list(shape)))
    return out


def open_graph(graph: Graph, sym: SymbolicShapes, sizes: dict[str, int],
               at: dict[str, tuple[int | None, ...]]) -> None:
    """Give the IR built at the open dims' `sizes` (where the shapes are `at`) its symbolic
    shapes: each value's, where it gives the IR's shape at those sizes; the others keep numbers
    and are listed in `graph.probe_only`."""
    graph.probe = sizes
    graph.equalities = list(sym.equalities)
    # Shape arithmetic over open dims becomes constants whose elements are expressions.
    for node in list(graph.nodes):
        outs = [o for o in node.outputs if o]
        if not outs or not all(o in sym.values for o in outs) or set(outs) & set(graph.outputs):
            continue
        if all(is_static(sym.values[o]) for o in outs):
            continue  # numbers: constant_fold's, as in any graph
        for o in outs:
            # The Value stays: its dtype is the tensor's (an object array has none).
            graph.initializers[o] = np.array(sym.values[o], dtype=object).reshape(graph.value(o).shape)
        graph.nodes.remove(node)
    for name, value in graph.values.items():
        shape = sym.shapes.get(name)
        if shape is not None and None not in shape and at.get(name) == tuple(value.shape):
            value.shape = shape  # type: ignore[assignment]
        else:
            graph.probe_only.add(name)


def _inferred_types(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    return list(onnx.shape_inference.infer_shapes(model).graph.value_info)


def _evaluate(d: Dim, subs: dict) -> int | None:
    if d is None or isinstance(d, int):
        return d
    value = d.subs(subs)
    return int(value) if value.is_Integer else None


def symbolic_shapes(model: onnx.ModelProto, dims: OpenDims) -> SymbolicShapes:
    """The shape of every value of `model` as expressions of `dims`' open dims."""
    import sympy

    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    # Declared shapes may name dims otherwise, or contradict the inputs' (see shapes.py).
    del bare.graph.value_info[:]
    for out in bare.graph.output:
        out.type.tensor_type.ClearField("shape")
    for inp in bare.graph.input:
        if inp.name in dims.inputs:
            shape = inp.type.tensor_type.shape
            shape.ClearField("dim")
            for d in dims.inputs[inp.name]:
                if isinstance(d, str):
                    shape.dim.add().dim_param = d
                else:
                    shape.dim.add().dim_value = d
    inferred, merges, data = _infer(bare)
    symbols = {name: sympy.Symbol(name, integer=True, positive=True) for name in dims.names}
    shapes: dict[str, tuple[Dim, ...]] = {}
    for info in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        t = info.type
        if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
            continue
        shapes[info.name] = tuple(int(d.dim_value) if d.HasField("dim_value") else
                                  _expression(d.dim_param, symbols) if d.dim_param else None
                                  for d in t.tensor_type.shape.dim)
    for init in model.graph.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
    constraints = {k: v for k, v in merges.items() if k in symbols}
    equalities = []
    for k, v in merges.items():
        lhs, rhs = _expression(k, symbols), _expression(v, symbols)
        if k not in symbols and lhs is not None and rhs is not None and sympy.simplify(lhs - rhs) != 0:
            equalities.append((lhs, rhs))
    values = {}
    for name, entries in data.items():
        flat = entries if isinstance(entries, list) else [entries]
        parsed = [_expression(e, symbols) for e in flat]
        if None not in parsed:
            values[name] = parsed
    return SymbolicShapes(dims, shapes, constraints, values, equalities)


def _expression(text: object, symbols: dict[str, sympy.Symbol]) -> Dim:
    """A dim or a shape tensor's element as the inference wrote it: a number, an expression of
    the open dims, or None when it names anything else (a fresh dim the inference made up where
    it could not compute one)."""
    import sympy

    try:
        # Text names the dims (parsed as our symbols); a sympy value already holds them.
        expr = sympy.sympify(text, locals=dict(symbols)) if isinstance(text, str) else sympy.sympify(text)
    except (sympy.SympifyError, SyntaxError, TypeError):
        return None
    if not isinstance(expr, sympy.Expr) or not expr.free_symbols <= set(symbols.values()):
        return None
    if expr.has(sympy.Float):
        expr = sympy.nsimplify(expr, rational=True)  # floor(2.0*H) from a Resize's float scale
    return int(expr) if expr.is_Integer else expr


def _infer(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, int | str], dict[str, object]]:
    """ONNX Runtime's symbolic shape inference, the dims it merged (model constraints), and the
    values it computed for shape tensors.

    NOTE: this drives the class as its `infer_shapes` does, minus the copy of the model that
    it saves into the working directory when some shape stays unknown: a partial answer is
    what this module wants, and a build must not leave files behind.
    """
    inference = _inference_class()(int_max=2**31 - 1, auto_merge=True, guess_output_rank=False, verbose=0)
    try:
        inference._preprocess(model)
        while inference.run_:
            inference._infer_impl()
        inference._update_output_from_vi()
    except Exception as e:  # noqa: BLE001 - the inference raises anything on ops it does not know
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelError(f"symbolic shape inference failed: {first}") from None
    merges = {str(k): (int(v) if isinstance(v, int) else str(v)) for k, v in inference.suggested_merge_.items()}
    return inference.out_mp_, merges, dict(inference.sympy_data_)


def _inference_class() -> type:
    """ONNX Runtime's inference, taught ConvTranspose (it leaves its output dims unknown)."""
    import sympy
    from onnx import helper
    from onnxruntime.tools import symbolic_shape_infer as ssi

    class Inference(ssi.SymbolicShapeInference):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.dispatcher_["ConvTranspose"] = self._conv_transpose

        def _conv_transpose(self, node: onnx.NodeProto) -> None:
            """ONNX's ConvTranspose shape: `output_shape` if given, else
            stride·(in − 1) + output_padding + (k − 1)·dilation + 1 − pads."""
            x, w = self._get_sympy_shape(node, 0), self._get_sympy_shape(node, 1)
            rank = len(x) - 2
            attr = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if attr.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID") and "output_shape" not in attr:
                return self._onnx_infer_single_node(node)  # SAME_*: ONNX's own answer
            strides, dilations = attr.get("strides", [1] * rank), attr.get("dilations", [1] * rank)
            out_pad, pads = attr.get("output_padding", [0] * rank), attr.get("pads", [0] * 2 * rank)
            kernel = attr.get("kernel_shape", w[2:])
            spatial = list(attr["output_shape"])[-rank:] if "output_shape" in attr else [
                s * (d - 1) + p + (k - 1) * dil + 1 - b - e
                for d, s, p, k, dil, b, e in zip(x[2:], strides, out_pad, kernel, dilations,
                                                 pads[:rank], pads[rank:], strict=True)]
            shape = [x[0], w[1] * attr.get("group", 1), *[sympy.simplify(d) for d in spatial]]
            self._update_computed_dims(shape)
            vi = self.known_vi_[node.output[0]]
            vi.CopyFrom(helper.make_tensor_value_info(node.output[0], vi.type.tensor_type.elem_type,
                                                      ssi.get_shape_from_sympy_shape(shape)))

    return Inference


__all__ = ["Dim", "OpenDims", "SymbolicShapes", "identifier", "open_dims", "open_graph", "sizes_of", "symbolic_shapes",
           "with_shapes_at"]
