"""Flatten ONNX `Loop`s that run a number of times known only at run time (part of loading).

`unroll.py` copies a Loop's body once per step when the trip count and condition are
build-time constants. Other Loops (a trip count read from an input, a `while` whose
condition the body computes) keep one copy of their body, between two nodes of the IR's
own domain:

- `LoopBegin(M, cond, v_initial...) -> (iteration, condition, v...)` starts the loop: the
  carried values `v` get their initial values, and the body reads `iteration` and
  `condition` (always true inside the body) as the ONNX body inputs.
- `LoopEnd(cond_out, v_out..., iteration, condition, v...) -> (v_final...)` closes it: the
  next step's `v` are the body's `v_out`, and after the last step `v_final` are the last
  `v`. It reads the body's inputs too, so that they stay alive until the step ends.

The body nodes lie between the two; code generation turns the pair into a `while` loop
(`codegen/loops.py`), and liveness keeps every value the body reads from outside alive
until the loop ends (`passes/liveness.py`).

Guarantees: a Loop is flattened only when its body has no nested subgraphs, no scan
output of it is used (their length is known only at run time), and every carried value
has one static shape before and after a step; otherwise ModelError says which rule it
breaks. Every name defined in the body is made fresh (the Loop's name as a prefix).
Works on the shape-inferred protobuf, just before `to_ir`.
"""

from __future__ import annotations

import onnx
from onnx import helper

from ..errors import ModelError
from ..ir import IR_DOMAIN, LOOP_BEGIN, LOOP_END

# The op types this step removes before code generation (for docs/ops.md).
REMOVES = frozenset({"Loop"})


def _is_loop(node: onnx.NodeProto) -> bool:
    return node.op_type == "Loop" and node.domain in ("", "ai.onnx")


def _dims(info: onnx.ValueInfoProto | None) -> tuple[int, ...] | None:
    t = info.type.tensor_type if info is not None else None
    if t is None or not t.HasField("shape") or not all(d.HasField("dim_value") for d in t.shape.dim):
        return None
    return tuple(d.dim_value for d in t.shape.dim)


def _info(name: str, like: onnx.ValueInfoProto) -> onnx.ValueInfoProto:
    info = onnx.ValueInfoProto()
    info.CopyFrom(like)
    info.name = name
    return info


class _Flattener:
    """One Loop's replacement nodes, its body's value types and its initializers, under fresh names."""

    def __init__(self, graph: onnx.GraphProto, loop: onnx.NodeProto, index: int) -> None:
        self.graph, self.loop, self.index = graph, loop, index
        self.body = next(a.g for a in loop.attribute if a.name == "body")
        self.label = loop.name or loop.output[0]
        self.prefix = self.label.replace("/", "_") + "__body__"
        outer = [*graph.input, *graph.value_info, *graph.output]
        self.outer = {i.name: i for i in outer}
        for t in graph.initializer:
            self.outer.setdefault(t.name, helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))

    def refuse(self, why: str) -> ModelError:
        return ModelError(f"Loop node {self.label!r} runs a number of times known only at run time, and {why}")

    def flatten(self) -> tuple[list[onnx.NodeProto], list[onnx.ValueInfoProto]]:
        body, loop = self.body, self.loop
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
               for n in body.node for a in n.attribute):
            raise self.refuse("its body holds another subgraph (If, Loop or Scan), which onnx2rs "
                              "cannot run inside such a loop yet")
        carried = len(loop.input) - 2
        read = {i for n in self.graph.node for i in n.input} | {o.name for o in self.graph.output}
        scans = [o for o in loop.output[carried:] if o and o in read]
        if scans:
            raise self.refuse(f"its scan output(s) {scans} would have a run-time length; "
                              "onnx2rs needs static shapes")
        defined = {i.name for i in body.input} | {o for n in body.node for o in n.output if o}
        defined |= {t.name for t in body.initializer}
        rename = {name: self.prefix + name for name in defined}
        infos = [helper.make_tensor_value_info(rename[body.input[0].name], onnx.TensorProto.INT64, []),
                 helper.make_tensor_value_info(rename[body.input[1].name], onnx.TensorProto.BOOL, []),
                 *(_info(rename[i.name], i) for i in body.input[2:])]
        for info in [*body.value_info, *body.output]:
            if info.name in rename and info.type.tensor_type.HasField("shape"):
                infos.append(_info(rename[info.name], info))
        for k in range(carried):
            self._check_carried(k, body.input[2 + k], body.output[1 + k])
            infos[2 + k] = _info(rename[body.input[2 + k].name], self.outer[loop.input[2 + k]])
        for t in body.initializer:
            copy = onnx.TensorProto()
            copy.CopyFrom(t)
            copy.name = rename[t.name]
            self.graph.initializer.append(copy)
        nodes = [helper.make_node(LOOP_BEGIN, list(loop.input), [rename[i.name] for i in body.input],
                                  name=f"{self.prefix}begin", domain=IR_DOMAIN, loop=self.index)]
        for n in body.node:
            copy = onnx.NodeProto()
            copy.CopyFrom(n)
            copy.name = self.prefix + (n.name or n.output[0])
            copy.input[:] = [rename.get(i, i) if i else "" for i in n.input]
            copy.output[:] = [rename[o] if o else "" for o in n.output]
            nodes.append(copy)
        results = [rename.get(o.name, o.name) for o in body.output[:1 + carried]]
        finals = [o or f"{self.prefix}final{k}" for k, o in enumerate(loop.output[:carried])]
        infos += [_info(f, self.outer[loop.input[2 + k]])
                  for k, f in enumerate(finals) if f not in self.outer]
        nodes.append(helper.make_node(LOOP_END, results + [rename[i.name] for i in body.input], finals,
                                      name=f"{self.prefix}end", domain=IR_DOMAIN, loop=self.index))
        return nodes, infos

    def _check_carried(self, k: int, inside: onnx.ValueInfoProto, result: onnx.ValueInfoProto) -> None:
        initial = self.loop.input[2 + k]
        before = _dims(self.outer.get(initial))
        if before is None:
            raise self.refuse(f"its carried value {initial!r} has no static shape")
        declared = [d for d in (_dims(inside), _dims(result)) if d is not None]
        produced = _dims(next((i for i in self.body.value_info if i.name == result.name), None))
        if produced is not None:
            declared.append(produced)
        if any(d != before for d in declared):
            shapes = sorted({str(list(d)) for d in [before, *declared]})
            raise self.refuse(f"its carried value {initial!r} changes shape from step to step "
                              f"({' vs '.join(shapes)}); onnx2rs needs one static shape")


def flatten_runtime_loops(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """A copy of `model` with every top-level Loop flattened (see the module docstring), and
    how many there were. Precondition: shape inference ran (the bodies' value_info is filled)."""
    if not any(_is_loop(n) for n in model.graph.node):
        return model, 0
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    nodes, count = [], 0
    for n in list(g.node):
        if not _is_loop(n):
            nodes.append(n)
            continue
        replacement, infos = _Flattener(g, n, count).flatten()
        nodes.extend(replacement)
        g.value_info.extend(infos)
        count += 1
    del g.node[:]
    g.node.extend(nodes)
    return out, count
