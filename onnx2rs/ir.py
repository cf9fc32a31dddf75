"""The intermediate representation: a graph of nodes over named, statically shaped values.

This is the only module that imports networkx. Passes edit `Graph.nodes` and use
the helpers here for dependency questions (topological order, readers, reachability).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from .dtypes import DType, from_numpy
from .errors import ModelError

# The domain of the IR's own ops (`Phi`, `LoopBegin`, `LoopEnd`), which a model file may not use.
IR_DOMAIN = "onnx2rs"
# The two nodes around a run-time loop's body (`loops.py`); code generation, not an op
# lowering, turns them into a `while` block.
LOOP_BEGIN = "LoopBegin"
LOOP_END = "LoopEnd"


def is_static(shape: tuple[Any, ...] | list[Any]) -> bool:
    """Whether every dim is a number (no open dim of `--dynamic`; see `Value`)."""
    return all(isinstance(d, (int, np.integer)) for d in shape)


def product(dims: tuple[Any, ...] | list[Any]) -> Any:
    """The product of `dims`: an int where they are numbers, else a sympy expression."""
    if is_static(dims):
        return int(np.prod(dims, dtype=np.int64))
    import sympy

    return sympy.Mul(*dims)


@dataclass
class Value:
    """A tensor flowing along an edge: its dtype and shape. A dim is an int, or, for a graph
    built with open dims (P11's analysis), a sympy expression of them; `Graph.probe` gives
    the numbers at the size the graph was built at."""

    name: str
    dtype: DType
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        """The number of elements (an expression where a dim is open)."""
        return product(self.shape)

    @property
    def nbytes(self) -> int:
        """The size in bytes."""
        return self.size * self.dtype.numpy.itemsize


@dataclass
class Node:
    """One operator application. Empty strings in `inputs` mark omitted optional inputs."""

    name: str
    op_type: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    domain: str = ""
    # Set by `fuse_activation` on Conv/Gemm: (op type, attributes) of the absorbed element-wise op.
    activation: tuple[str, dict] | None = None
    # Set by `fuse_conv_pool` on Conv: the window (which is also the stride) per spatial
    # axis of a MaxPool absorbed after the activation; the output is then the pooled one.
    pool: tuple[int, ...] | None = None
    # The model's ops this node computes, in order, each with the pass that merged it in ("" for
    # the node's own op); empty for a node no pass merged anything into. For `analyze`.
    origin: list[tuple[str, str]] = field(default_factory=list)

    def ops_computed(self) -> list[tuple[str, str]]:
        """`origin`, or this node's own op when nothing was merged into it."""
        return self.origin or [(self.op_type, "")]

    def absorb(self, other: Node, by: str) -> None:
        """Record that this node now also computes `other` (and all it stood for), merged by pass `by`."""
        self.origin = self.ops_computed() + [(op, merged or by) for op, merged in other.ops_computed()]

    def input(self, i: int) -> str | None:
        """Input `i`, or None if it is absent or omitted."""
        return self.inputs[i] if i < len(self.inputs) and self.inputs[i] else None

    @property
    def is_loop_begin(self) -> bool:
        """True for the node that opens a run-time loop."""
        return self.op_type == LOOP_BEGIN and self.domain == IR_DOMAIN

    @property
    def is_loop_end(self) -> bool:
        """True for the node that closes a run-time loop."""
        return self.op_type == LOOP_END and self.domain == IR_DOMAIN


@dataclass
class Graph:
    """A whole model: nodes in a valid execution order, values, weights and the interface."""

    name: str
    nodes: list[Node]
    values: dict[str, Value]
    initializers: dict[str, np.ndarray]
    inputs: list[str]
    outputs: list[str]
    opset: int
    doc: str = ""
    # Weights stored as the runtime's panels of a matrix product's B (passes/weight_layout.py):
    # initializer name -> the [k, n] matrix they hold.
    panels: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Built with open dims: each one's size at the probe (its identifier -> number), and the
    # values whose shapes are the probe's numbers only (no expression was found for them).
    probe: dict[str, int] = field(default_factory=dict)
    probe_only: set[str] = field(default_factory=set)
    # Equalities between expressions of the open dims that the model needs (sizes at which
    # they fail are refused at run time, as ONNX Runtime refuses them).
    equalities: list[tuple[Any, Any]] = field(default_factory=list)

    def at_probe(self, x: Any) -> int:
        """A number of this graph (a size, an offset) at the probe size."""
        return self.at(x, self.probe)

    @staticmethod
    def at(x: Any, sizes: dict[str, int]) -> int:
        """A number of this graph (a size, an offset) with its open dims at `sizes`."""
        if isinstance(x, (int, np.integer)):
            return int(x)
        import sympy

        return int(x.subs({sympy.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()}))

    def dag(self) -> nx.MultiDiGraph:
        """Nodes (by name) with an edge producer -> reader for every value passed."""
        g = nx.MultiDiGraph()
        producer = {}
        for index, node in enumerate(self.nodes):
            g.add_node(node.name, index=index)
            for out in node.outputs:
                producer[out] = node.name
        for node in self.nodes:
            for value in node.inputs:
                if value in producer:
                    g.add_edge(producer[value], node.name, value=value)
        return g

    def toposort(self) -> None:
        """Reorder `nodes` topologically, keeping the original order where it is free.

        Raises ModelError naming the nodes of a cycle.
        """
        g = self.dag()
        by_name = {n.name: n for n in self.nodes}
        try:
            order = list(nx.lexicographical_topological_sort(g, key=lambda n: g.nodes[n]["index"]))
        except nx.NetworkXUnfeasible:
            cycle = [edge[0] for edge in nx.find_cycle(g)]
            raise ModelError(f"the graph has a cycle through nodes {cycle}") from None
        self.nodes = [by_name[n] for n in order]
        for begin, _ in self.loops():
            self._hoist(g, begin)

    def loops(self) -> list[tuple[int, int]]:
        """The (LoopBegin, LoopEnd) index pairs of the run-time loops, in order; the body is
        the nodes strictly between. Loops do not nest (`loops.py` refuses nested ones)."""
        pairs, begin = [], None
        for i, node in enumerate(self.nodes):
            if node.is_loop_begin:
                begin = i
            elif node.is_loop_end and begin is not None:
                pairs.append((begin, i))
                begin = None
        return pairs

    def _hoist(self, g: nx.MultiDiGraph, begin: int) -> None:
        """Move the nodes after LoopBegin that do not depend on it to just before it: they
        run once, whatever the trip count (zero included), and the body is what is left."""
        start = self.nodes[begin].name
        inside = nx.descendants(g, start)
        end = next(i for i in range(begin, len(self.nodes)) if self.nodes[i].is_loop_end)
        region = self.nodes[begin + 1:end]
        self.nodes[begin:end] = ([n for n in region if n.name not in inside] + [self.nodes[begin]]
                                 + [n for n in region if n.name in inside])

    def producer(self, value: str) -> Node | None:
        """The node that computes `value`, or None for inputs and initializers."""
        return next((n for n in self.nodes if value in n.outputs), None)

    def readers(self, value: str) -> list[Node]:
        """The nodes that read `value`, in execution order."""
        return [n for n in self.nodes if value in n.inputs]

    def replace_uses(self, old: str, new: str) -> None:
        """Make every reader of `old` (and the graph outputs) read `new` instead."""
        for node in self.nodes:
            node.inputs = [new if v == old else v for v in node.inputs]
        self.outputs = [new if v == old else v for v in self.outputs]

    def io_bytes(self) -> int:
        """The bytes of the graph's inputs and outputs at their static shapes (at the probe)."""
        return sum(self.at_probe(self.value(n).nbytes) for n in [*self.inputs, *self.outputs])

    def value(self, name: str) -> Value:
        """The Value for `name`, whether computed, a graph input or an initializer."""
        if name in self.values:
            return self.values[name]
        array = self.initializers[name]
        dtype = from_numpy(array.dtype)
        if dtype is None:
            raise ModelError(f"initializer {name!r} has unsupported dtype {array.dtype}")
        return Value(name, dtype, tuple(array.shape))

    def fresh_name(self, base: str) -> str:
        """A value name not used by any value, weight or node output yet."""
        taken = set(self.values) | set(self.initializers) | {o for n in self.nodes for o in n.outputs}
        name, i = base, 1
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        return name

    def remove_value(self, name: str) -> None:
        """Forget the type of an intermediate that no node produces any more."""
        self.values.pop(name, None)

    def is_constant(self, value: str) -> bool:
        """True if `value` is a weight (initializer) known at compile time."""
        return value in self.initializers

    def intermediates(self) -> list[str]:
        """Values computed by nodes, in execution order."""
        return [out for node in self.nodes for out in node.outputs if out]
