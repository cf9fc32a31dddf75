"""What an op's lowering function sees: its node, its operands as Rust expressions, and templates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..dtypes import DType, to_storage
from ..ir import Graph, Node, Value


class Templates(Protocol):
    """What lowering needs of code generation's renderer (codegen/render.py): call-site
    templates and the Rust identifiers of weights. Lowering never imports codegen."""

    def op(self, template: str, **context: Any) -> str: ...

    def ident(self, name: str) -> str: ...


def literal(value: Any, dtype: DType) -> str:
    """A Rust literal of a scalar (or one-element array) `value` typed as `dtype`."""
    v = np.asarray(value).reshape(-1)
    if v.size != 1:
        raise ValueError(f"expected a scalar, got shape {np.shape(value)}")
    x = v[0]
    if not dtype.native:
        # Narrow types are built from their stored form, which is exact.
        stored = to_storage(np.asarray([x]).astype(dtype.numpy))[0]
        return f"<{dtype.rust} as onnx2rs_runtime::Element>::from_bits({int(stored)})"
    if dtype.rust == "bool":
        return "true" if bool(x) else "false"
    if dtype.is_float:
        f = float(x)
        if math.isnan(f):
            return f"{dtype.rust}::NAN"
        if math.isinf(f):
            return f"{dtype.rust}::{'INFINITY' if f > 0 else 'NEG_INFINITY'}"
        # Shortest spelling that round-trips in the target type (clippy: excessive_precision).
        x = dtype.numpy.type(f)
        if f == 0 or 1e-4 <= abs(f) < 1e7:
            text = np.format_float_positional(x, unique=True, trim="0")
        else:
            text = np.format_float_scientific(x, unique=True, trim="-", exp_digits=1)
        return f"{text}_{dtype.rust}"
    info = np.iinfo(dtype.numpy)
    return f"{int(np.clip(int(x), info.min, info.max))}_{dtype.rust}"



@dataclass(frozen=True)
class Call:
    """A lowered node: the Rust statement (empty for a pure alias) and whether it returns `Result`."""

    expr: str
    fallible: bool = True


class Lowering:
    """Turns one node's operands into Rust expressions for its call site.

    `arg(i)` is a view of input i (weight, caller's input or arena slice);
    `out(i)` is a mutable view of output i's arena slice; `const(i)` reads a
    compile-time value instead, so that it never becomes a weight. When
    `inplace` is set, the input the op overwrites (`OpSpec.inplace_input`, most
    often input 0) lives in the output's slice: use `out()` for it.
    When `view` is set, the output is read where input 0 lies (passes/views.py):
    the lowering emits no kernel, at most a check of run-time operands.
    `flat(i)` and `flat_out()` give the plain slices behind arena operands, for
    kernels that need no shape (same-shape element-wise ops).
    """

    def __init__(
        self, graph: Graph, node: Node, renderer: Templates, bindings: dict[str, str], outs: list[str | None],
        inplace: bool, view: bool = False, flats: dict[str, str] | None = None,
    ) -> None:
        """Prepare to lower `node`; `bindings` maps its input names to view expressions, `outs`
        gives each output's mutable view (None for an output the model leaves out), `flats`
        the slices (`&[T]`, and `out` as `&mut [T]`) of a single-output node's arena operands."""
        self.graph, self.node, self._renderer = graph, node, renderer
        self._bindings, self._outs, self.inplace, self.view = bindings, outs, inplace, view
        self._flats = flats or {}
        self.weights_used: list[str] = []
        self.inputs_used: list[str] = []
        self.workspace_needed: list[int | str] = []

    def value(self, name: str) -> Value:
        """The IR value (or an initializer, as a Value) named `name`."""
        return self.graph.value(name)

    def input(self, i: int) -> Value:
        """The value of input `i`."""
        name = self.node.input(i)
        assert name is not None, f"{self.node.op_type} input {i} is required (checked in preflight)"
        return self.value(name)

    def output(self, i: int = 0) -> Value:
        """The value of output `i`."""
        return self.graph.values[self.node.outputs[i]]

    def has_input(self, i: int) -> bool:
        """True if optional input `i` is given."""
        return self.node.input(i) is not None

    def attr(self, name: str, default: Any = None) -> Any:
        """Attribute `name`, or `default` when absent."""
        return self.node.attrs.get(name, default)

    def arg(self, i: int) -> str:
        """A Rust expression giving an `ArrayViewD` of input `i`."""
        name = self.input(i).name
        if self.graph.is_constant(name):
            self.weights_used.append(name)
        elif name in self.graph.inputs:
            self.inputs_used.append(name)
        return self._bindings[name]

    def panels(self, i: int) -> str | None:
        """`&self.<weight>` when input `i` is a weight stored as the runtime's panels of a
        product's B (`ops::PackedB`, see passes/weight_layout.py), else None."""
        name = self.node.input(i)
        if name is None or name not in self.graph.panels:
            return None
        self.weights_used.append(name)
        return f"&self.{self._renderer.ident(name)}"

    def opt_arg(self, i: int) -> str:
        """`Some(view)` or `None` for an optional input."""
        return f"Some({self.arg(i)})" if self.has_input(i) else "None"

    def out(self, i: int = 0) -> str:
        """A Rust expression giving an `ArrayViewMutD` of output `i`'s arena slice."""
        view = self._outs[i] if i < len(self._outs) else None
        assert view is not None, f"{self.node.op_type} output {i} is not produced (check has_output)"
        return view

    def has_output(self, i: int) -> bool:
        """True if output `i` is produced (ONNX lets a model leave trailing outputs out)."""
        return i < len(self._outs) and self._outs[i] is not None

    def flat(self, i: int) -> str | None:
        """A `&[T]` of input `i` when it is an arena slice of the output's element type (not
        the in-place input, which is `flat_out()`), else None."""
        name = self.node.input(i)
        return self._flats.get(name) if name else None

    def flat_out(self) -> str | None:
        """The output's arena slice as `&mut [T]` (None for a node with several outputs)."""
        return self._flats.get("")

    def opt_out(self, i: int) -> str:
        """`Some(view)` or `None` for an optional output."""
        return f"Some({self.out(i)})" if self.has_output(i) else "None"

    def workspace(self, elements: int | str) -> str:
        """Scratch space for the kernel (packed GEMM panels, padded inputs, cell state), shared
        by all nodes: `elements` f32, or a Rust expression by which the runtime says how many
        (the runtime owns each kernel's layout, so the compiler never copies its rules)."""
        self.workspace_needed.append(elements)
        return "&mut s.workspace"

    def const(self, i: int) -> np.ndarray | None:
        """The compile-time value of input `i`, or None if it is computed at run time."""
        name = self.node.input(i)
        return self.graph.initializers.get(name) if name else None

    def literal(self, value: Any, dtype: DType) -> str:
        """A Rust literal of `value` (a scalar or 1-element array) as `dtype`."""
        return literal(value, dtype)

    def activation(self) -> str:
        """The `ops::Unary` epilogue fused into this node by `fuse_activation` (Identity if none)."""
        if self.node.activation is None:
            return "ops::Unary::Identity"
        from .elementwise import UNARY

        op, attrs = self.node.activation
        return UNARY[op](attrs)

    def shape_literal(self, dims: Any) -> str:
        """A Rust slice literal `&[a, b]` of non-negative integers."""
        return "&[" + ", ".join(str(int(d)) for d in dims) + "]"

    def shape_literal_signed(self, values: Any) -> str:
        """A Rust slice literal `&[a, b]` of integers that may be negative (pads, offsets)."""
        return "&[" + ", ".join(str(int(v)) for v in values) + "]"

    def render(self, template: str, fallible: bool = True, **context: Any) -> Call:
        """Render the call site `templates/ops/<template>.rs.j2` with `context`."""
        return Call(self._renderer.op(template, **context), fallible)

    def call(self, fn: str, *args: str, fallible: bool = True) -> Call:
        """A call `ops::<fn>(args)`; `fallible` if the runtime function returns Result."""
        return self.render("_call", fallible, fn=fn, args=args)

    def chain(self, first: Call, binding: str, then: Call) -> Call:
        """`first.and_then(|binding| then)`: a check or operand read, then the kernel that uses it."""
        return Call(f"{first.expr}.and_then(|{binding}| {then.expr})")

    def alias(self) -> Call:
        """No code: the output is a view of input 0's buffer."""
        return Call("", fallible=False)
