"""The Rust of a run-time loop: `LoopBegin` opens a `while` block, `LoopEnd` closes it.

The IR keeps a run-time loop's body between the two nodes (`loops.py`). A loop's locals
are named by its index (`trips_0`, `running_0`, `iteration_0`), never by a model name.
Each step of the loop writes the body's inputs (`iteration`, `condition`) into their
arena slots and, at its end, copies the body's results into the carried slots; after
the loop, the carried slots are copied into the Loop's outputs. When a result lies in the
memory of a carried value (a body that passes one through, or swaps two), the results
go through the outputs' slots first, so that no copy reads a slot written before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Graph, Node
from .render import Renderer
from .step import Step


@dataclass
class LoopStep:
    """Rust lines of a LoopBegin or LoopEnd, and the weights and inputs they read. `tail`
    comes after the step frees the caller's inputs it read last (outside the loop)."""

    lines: list[str]
    tail: list[str] = field(default_factory=list)
    weights: set[str] = field(default_factory=set)
    inputs: set[str] = field(default_factory=set)

    def step(self, node: Node) -> Step:
        """The step that `model.rs.j2` renders (`lines`, written as they are)."""
        return Step(node.op_type, node.name, lines=self.lines, tail=self.tail)


class _Writer:
    def __init__(self, graph: Graph, renderer: Renderer, arena) -> None:
        self.graph, self.renderer, self.arena = graph, renderer, arena
        self.out = LoopStep([])

    def read(self, name: str) -> str:
        """A view of `name`, wherever it lives."""
        if self.graph.is_constant(name):
            self.out.weights.add(name)
            return f"self.{self.renderer.ident(name)}.view()"
        if name in self.graph.inputs:
            self.out.inputs.add(name)
            return f"inputs.{self.renderer.ident(name)}.view()"
        return self.arena.view(name)

    def copy(self, source: str, target: str, comment: str) -> None:
        """`target`'s arena slot = `source`'s elements (nothing when they are one slot)."""
        value = self.graph.value(target)
        arena = f"s.arena_{value.dtype.name}"
        inside = not (self.graph.is_constant(source) or source in self.graph.inputs)
        if inside and self.arena.bounds(source) == self.arena.bounds(target):
            return
        self.out.lines.append(f"// {comment}")
        if inside:
            start, end = self.arena.bounds(source)
            self.out.lines.append(f"{{ let (out, [from]) = arena::split(&mut {arena}, {self.arena.range(target)}, "
                                  f"[({start}, {end})])?; out.copy_from_slice(from); }}")
        else:
            self.out.lines.append(f"ops::reshape_into({self.read(source)}, arena::view_mut(arena::slice_mut("
                                  f"&mut {arena}, {self.arena.range(target)})?, {self.arena.dims(value.shape)})?)?;")

    def store(self, target: str, value: str) -> None:
        """Write a scalar into `target`'s one-element slot."""
        dtype = self.graph.value(target).dtype.name
        self.out.lines.append(f"arena::slice_mut(&mut s.arena_{dtype}, {self.arena.range(target)})?[0] = {value};")


def loop_begin(graph: Graph, node: Node, renderer: Renderer, arena) -> LoopStep:
    """Read the trip count and condition, set the carried slots, open the `while` block."""
    k = node.attrs["loop"]
    w = _Writer(graph, renderer, arena)
    trips, cond = node.input(0), node.input(1)
    count = f"ops::scalar(&{w.read(trips)})?" if trips else "i64::MAX"
    running = f"ops::scalar(&{w.read(cond)})?" if cond else "true"
    w.out.lines.append(f"// Loop {k}: the body below runs while its condition holds, at most `trips_{k}` times.")
    w.out.lines.append(f"let trips_{k}: i64 = {count};")
    w.out.lines.append(f"let mut running_{k}: bool = {running};")
    for initial, carried in zip(node.inputs[2:], node.outputs[2:], strict=True):
        if carried:
            w.copy(initial, carried, f"carried value, initially `{initial}`")
    w.out.lines.append(f"let mut iteration_{k}: i64 = 0;")
    head = w.out.lines
    w.out.lines = w.out.tail
    w.out.lines.append(f"while running_{k} && iteration_{k} < trips_{k} {{")
    if node.outputs[0]:
        w.store(node.outputs[0], f"iteration_{k}")
    if node.outputs[1]:
        w.store(node.outputs[1], "true")
    w.out.lines = head
    return w.out


def loop_end(graph: Graph, node: Node, renderer: Renderer, arena, views: dict) -> LoopStep:
    """Take the body's condition, carry its results into the next step, close the block,
    and give the Loop's outputs the carried values."""
    k = node.attrs["loop"]
    w = _Writer(graph, renderer, arena)
    carried = len(node.outputs)
    results, slots = node.inputs[1:1 + carried], node.inputs[3 + carried:]
    w.out.lines.append(f"running_{k} = ops::scalar(&{w.read(node.inputs[0])})?;")
    slot_memory = {views[s].root if s in views else s for s in slots if s}
    clash = any((views[r].root if r in views else r) in slot_memory and r != s
                for r, s in zip(results, slots, strict=True))
    for result, slot, final in zip(results, slots, node.outputs, strict=True):
        if not slot:
            continue
        if clash:  # through the outputs' slots, which nothing live here shares
            w.copy(result, final, "the next step's value, staged")
        else:
            w.copy(result, slot, "the next step's value")
    if clash:
        for slot, final in zip(slots, node.outputs, strict=True):
            if slot:
                w.copy(final, slot, "the next step's value")
    w.out.lines.append(f"iteration_{k} += 1;")
    w.out.lines.append("}")
    for slot, final in zip(slots, node.outputs, strict=True):
        if slot:
            w.copy(slot, final, "the loop's result")
    return w.out
