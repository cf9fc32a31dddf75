"""What an op's lowering function sees: its node, its operands, and the typed Rust it returns."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..dtypes import DType, to_storage
from ..ir import Graph, Node, Value
from .rust import Alias, Arg, Call, Chain, Dims, Flat, In, Lit, Opt, Out, Panels, RustCall, Struct, Workspace, dims


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



class Lowering:
    """What one node's lowering sees, and the typed arguments (ops/rust.py) it builds its call from.

    `arg(i)` is a view of input i (weight, caller's input or arena slice);
    `out(i)` is a mutable view of output i's arena slice; `const(i)` reads a
    compile-time value instead, so that it never becomes a weight. When
    `inplace` is set, the input the op overwrites (`OpSpec.inplace_input`, most
    often input 0) lives in the output's slice: use `out()` for it.
    When `view` is set, the output is read where input 0 lies (passes/views.py):
    the lowering emits no kernel, at most a check of run-time operands.
    `flat(i)` and `flat_out()` give the plain slices behind arena operands, for
    kernels that need no shape (same-shape element-wise ops).
    Code generation resolves each operand to its Rust (codegen/render.py).
    """

    def __init__(
        self, graph: Graph, node: Node, produced: list[bool], inplace: bool, view: bool = False,
        flats: frozenset[str | None] = frozenset(),
    ) -> None:
        """Prepare to lower `node`: `produced` says which outputs the model keeps (ONNX lets it
        leave trailing ones out), `flats` which input names (and None, the output) have a plain
        slice of the output's element type in the arena."""
        self.graph, self.node, self._produced = graph, node, produced
        self.inplace, self.view, self._flats = inplace, view, flats
        self.weights_used: list[str] = []
        self.inputs_used: list[str] = []
        self.workspace_needed: list[int | Arg] = []

    def like(self, graph: Graph) -> Lowering:
        """A fresh context for the same node and operands over `graph` (another graph's copy of
        this one: at other sizes, say), to lower the node again."""
        return Lowering(graph, self.node, self._produced, self.inplace, self.view, self._flats)

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

    def arg(self, i: int) -> In:
        """A view (`ArrayViewD`) of input `i`."""
        name = self.input(i).name
        if self.graph.is_constant(name):
            self.weights_used.append(name)
        elif name in self.graph.inputs:
            self.inputs_used.append(name)
        return In(i)

    def panels(self, i: int) -> Panels | None:
        """Input `i` when it is a weight stored as the runtime's panels of a product's B
        (`ops::PackedB`, see passes/weight_layout.py), else None."""
        name = self.node.input(i)
        if name is None or name not in self.graph.panels:
            return None
        self.weights_used.append(name)
        return Panels(name)

    def opt_arg(self, i: int) -> Opt:
        """`Some(view)` or `None` for an optional input."""
        return Opt(self.arg(i) if self.has_input(i) else None)

    def out(self, i: int = 0) -> Out:
        """A mutable view (`ArrayViewMutD`) of output `i`'s arena slice."""
        assert self.has_output(i), f"{self.node.op_type} output {i} is not produced (check has_output)"
        return Out(i)

    def has_output(self, i: int) -> bool:
        """True if output `i` is produced (ONNX lets a model leave trailing outputs out)."""
        return i < len(self._produced) and self._produced[i]

    def flat(self, i: int) -> Flat | None:
        """A `&[T]` of input `i` when it is an arena slice of the output's element type (not
        the in-place input, which is `flat_out()`), else None."""
        name = self.node.input(i)
        return Flat(i) if name and name in self._flats else None

    def flat_out(self) -> Flat | None:
        """The output's arena slice as `&mut [T]` (None for a node with several outputs)."""
        return Flat(None) if None in self._flats else None

    def opt_out(self, i: int) -> Opt:
        """`Some(view)` or `None` for an optional output."""
        return Opt(self.out(i) if self.has_output(i) else None)

    def workspace(self, elements: int | Arg) -> Workspace:
        """Scratch space for the kernel (packed GEMM panels, padded inputs, cell state), shared
        by all nodes: `elements` f32, or a Rust expression by which the runtime says how many
        (the runtime owns each kernel's layout, so the compiler never copies its rules)."""
        self.workspace_needed.append(elements)
        return Workspace()

    def const(self, i: int) -> np.ndarray | None:
        """The compile-time value of input `i`, or None if it is computed at run time."""
        name = self.node.input(i)
        return self.graph.initializers.get(name) if name else None

    def literal(self, value: Any, dtype: DType) -> Lit:
        """A literal of `value` (a scalar or 1-element array) as `dtype`."""
        literal(value, dtype)  # refuse anything but a scalar here, where the node is known
        return Lit(value, dtype)

    def activation(self) -> Struct:
        """The `ops::Unary` epilogue fused into this node by `fuse_activation` (Identity if none)."""
        if self.node.activation is None:
            return Struct("Unary::Identity")
        from .elementwise import UNARY

        op, attrs = self.node.activation
        return UNARY[op](attrs)

    def shape_literal(self, values: Any) -> Dims:
        """A slice literal `&[a, b]` of integers (a shape, axes, pads that may be negative)."""
        return dims(values)

    def call(self, fn: str, *args: Arg, fallible: bool = True) -> RustCall:
        """A call `ops::<fn>(args)`; `fallible` if the runtime function returns Result."""
        return RustCall(fn, args, fallible)

    def chain(self, first: RustCall | Chain, binding: str, then: RustCall | Chain) -> Chain:
        """`first.and_then(|binding| then)`: a check or operand read, then the kernel that uses it."""
        return Chain(first, binding, then)

    def alias(self) -> Alias:
        """No code: the output is a view of input 0's buffer."""
        return Alias()


__all__ = ["Call", "Lowering", "literal"]
