"""What an op's lowering function sees: its node, typed access to its operands, and templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtypes import DType
from ..ir import Graph, Node, Value

if TYPE_CHECKING:
    from ..codegen.render import Renderer


@dataclass(frozen=True)
class Call:
    """A lowered node: the Rust expression, and whether it returns `Result`."""

    expr: str
    fallible: bool = True
    inplace: bool = False


class Lowering:
    """Turns one node's operands into Rust expressions for its call site.

    `arg(i)` hands a tensor to the runtime (a weight if it is an initializer);
    `const(i)` reads a compile-time value instead, so it never becomes a weight.
    """

    def __init__(self, graph: Graph, node: Node, renderer: Renderer, inplace: bool = False) -> None:
        """Prepare to lower `node` of `graph`; `inplace` if it may overwrite its first input."""
        self.graph, self.node, self._renderer = graph, node, renderer
        self.inplace = inplace
        self.weights_used: list[str] = []

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
        return self._renderer.view_of(name)

    def opt_arg(self, i: int) -> str:
        """`Some(view)` or `None` for an optional input."""
        return f"Some({self.arg(i)})" if self.has_input(i) else "None"

    def const(self, i: int) -> np.ndarray | None:
        """The compile-time value of input `i`, or None if it is computed at run time."""
        name = self.node.input(i)
        return self.graph.initializers.get(name) if name else None

    def render(self, template: str, fallible: bool = True, **context: Any) -> Call:
        """Render the call site `templates/ops/<template>.rs.j2` with `context`."""
        return Call(self._renderer.op(template, **context), fallible)

    def literal(self, value: Any, dtype: DType) -> str:
        """A Rust literal of `value` (a scalar or 1-element array) as `dtype`."""
        return self._renderer.literal(value, dtype)

    def shape_literal(self, dims: Any) -> str:
        """A Rust slice literal `&[a, b]` of non-negative integers."""
        return "&[" + ", ".join(str(int(d)) for d in dims) + "]"

    def call_inplace(self, fn: str, *args: str, fallible: bool = False) -> Call:
        """A call `ops::fn(&mut out, args)` that overwrites the output, which holds input 0."""
        target = self._renderer.ident(self.node.outputs[0])
        call = self.render("_call", fallible, fn=fn, args=(f"&mut {target}", *args))
        return Call(call.expr, fallible, inplace=True)

    def call(self, fn: str, *args: str, fallible: bool = True) -> Call:
        """A call `ops::fn(args)`; `fallible` if the runtime function returns Result."""
        return self.render("_call", fallible, fn=fn, args=args)
