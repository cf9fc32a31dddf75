"""liveness, views, inplace and memory_plan on small hand-built graphs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from onnx2rs.dtypes import BY_NAME, F32
from onnx2rs.ir import Graph, Node, Value
from onnx2rs.passes import analyse
from onnx2rs.passes.inplace import decide_inplace
from onnx2rs.passes.liveness import liveness
from onnx2rs.passes.memory_plan import ALIGNMENT, plan_memory


def graph(nodes: list[Node], outputs: list[str], shape=(1, 8, 16)) -> Graph:
    names = {v for n in nodes for v in n.inputs + n.outputs if v and not v.startswith("w")} | {"x"}
    weights = {v: np.zeros((8, 8, 3), np.float32) for n in nodes for v in n.inputs if v.startswith("w")}
    values = {v: Value(v, F32, shape) for v in names}
    return Graph("g", nodes, values, weights, ["x"], outputs, opset=17)


def plan(g: Graph):
    live = liveness(g)
    inplace = decide_inplace(g, live)
    return live, inplace, plan_memory(g, live, inplace)


def test_liveness_intervals() -> None:
    g = graph([Node("c", "Conv", ["x", "w1"], ["a"]), Node("r", "Relu", ["a"], ["b"]),
               Node("t", "Tanh", ["b"], ["y"])], ["y"])
    live = liveness(g)
    assert (live["x"].start, live["x"].end) == (-1, 0)
    assert (live["a"].start, live["a"].end) == (0, 1)
    assert (live["y"].start, live["y"].end) == (2, 3)  # outputs outlive the last node
    assert "w1" not in live


def test_relu_whose_input_also_feeds_a_conv_is_not_in_place() -> None:
    # Scenario 2 of the original system: conv0 -> relu, and conv0 -> conv1d.
    g = graph([Node("conv0", "Conv", ["x", "w1"], ["a"]), Node("relu", "Relu", ["a"], ["b"]),
               Node("conv1d", "Conv", ["a", "w2"], ["c"]), Node("add", "Add", ["b", "c"], ["y"])], ["y"])
    _, inplace, _ = plan(g)
    assert not inplace["relu"].inplace
    assert inplace["relu"].reason == "input read later"


def test_input_not_owned_prevents_in_place() -> None:
    g = graph([Node("relu", "Relu", ["x"], ["y"])], ["y"])
    _, inplace, _ = plan(g)
    assert not inplace["relu"].inplace and "borrowed" in inplace["relu"].reason


def test_chain_of_in_place_ops_shares_one_buffer() -> None:
    g = graph([Node("conv", "Conv", ["x", "w1"], ["a"]), Node("bn", "BatchNormalization",
               ["a", "w2", "w3", "w4", "w5"], ["b"]), Node("relu", "Relu", ["b"], ["c"]),
               Node("sig", "Sigmoid", ["c"], ["d"]), Node("mm", "MatMul", ["d", "w6"], ["y"])], ["y"])
    _, inplace, memory = plan(g)
    assert [inplace[n].inplace for n in ("conv", "bn", "relu", "sig", "mm")] == [False, True, True, True, False]
    chain = next(b for b in memory.buffers if "a" in b.values)
    assert chain.values == ["a", "b", "c", "d"]
    assert memory.arena_bytes < memory.naive_bytes


def test_diamond_first_reader_keeps_input_last_reader_reuses_it() -> None:
    g = graph([Node("conv", "Conv", ["x", "w1"], ["a"]), Node("tanh", "Tanh", ["a"], ["b"]),
               Node("sig", "Sigmoid", ["a"], ["c"]), Node("add", "Add", ["b", "c"], ["y"])], ["y"])
    live, inplace, memory = plan(g)
    assert live["a"].readers == 2
    assert not inplace["tanh"].inplace
    assert inplace["sig"].inplace
    assert_no_live_overlap(memory)


def test_graph_outputs_and_weights_are_never_overwritten() -> None:
    g = graph([Node("conv", "Conv", ["x", "w1"], ["a"]), Node("relu", "Relu", ["a"], ["y"]),
               Node("tanh", "Tanh", ["y"], ["z"])], ["y", "z"])
    _, inplace, _ = plan(g)
    assert inplace["relu"].inplace
    assert not inplace["tanh"].inplace and "graph output" in inplace["tanh"].reason


def assert_no_live_overlap(memory) -> None:
    for a, b in itertools.combinations(memory.buffers, 2):
        if a.start <= b.end and b.start <= a.end:
            assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)
    for b in memory.buffers:
        assert b.offset % ALIGNMENT == 0 and b.size % ALIGNMENT == 0


@pytest.mark.parametrize("seed", range(25))
def test_random_graphs_never_share_memory_while_live(seed: int) -> None:
    rng = np.random.default_rng(seed)
    nodes, avail = [], ["x"]
    for i in range(int(rng.integers(3, 30))):
        op = rng.choice(["Relu", "Tanh", "Add", "Sigmoid"])
        ins = list(rng.choice(avail, size=2 if op == "Add" else 1))
        nodes.append(Node(f"n{i}", str(op), ins, [f"v{i}"]))
        avail.append(f"v{i}")
    g = graph(nodes, [f"v{len(nodes) - 1}"], shape=(int(rng.integers(1, 50)),))
    _, _, memory = plan(g)
    assert_no_live_overlap(memory)
    assert memory.arena_bytes <= sum(b.size for b in memory.buffers)


def assert_every_read_sees_its_value(g: Graph, inplace, memory) -> None:
    """Replay the plan: each node writes labels (value, element) into the arena; every read of
    an intermediate, and every graph output at the end, must find its own labels there (a
    view finds its root's, from its offset). A node's output never overlaps what it reads
    (the generated code borrows them apart), unless it overwrites that input in place."""
    cells: dict[int, tuple[str, int]] = {}

    def span(v: str) -> range:
        return range(memory.offset_of(v) // 4, memory.offset_of(v) // 4 + g.value(v).size)

    def check(v: str, when: str) -> None:
        view = memory.views.get(v)
        root, first = (view.root, view.offset) if view else (v, 0)
        found = [cells.get(i) for i in span(v)]
        assert found == [(root, first + k) for k in range(g.value(v).size)], f"{v} overwritten {when}"

    for step, node in enumerate(g.nodes):
        for v in node.inputs:
            if v and v not in g.inputs and not g.is_constant(v):
                check(v, f"before step {step}")
        for v in node.outputs:
            if v not in memory.views:
                decision = inplace[node.name]
                for u in node.inputs:
                    if u not in g.inputs and not g.is_constant(u) and not (decision.inplace and u == decision.input):
                        assert not set(span(u)) & set(span(v)), f"step {step} writes {v} over {u}, which it reads"
                cells.update({i: (v, k) for k, i in enumerate(span(v))})
    for v in g.outputs:
        check(v, "at the end")


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_with_views_never_overwrite_a_live_value(seed: int) -> None:
    """Element-wise ops (in place when they may), Slices and Reshapes (views) over 1-D values."""
    rng = np.random.default_rng(seed)
    values = {"x": Value("x", F32, (int(rng.integers(4, 40)),))}
    nodes, weights = [], {}
    for i in range(int(rng.integers(3, 40))):
        a = str(rng.choice(list(values)))
        n = values[a].shape[0]
        op = str(rng.choice(["Relu", "Tanh", "Add", "Slice", "Slice", "Reshape"]))
        if op == "Slice" and n > 1:
            lo = int(rng.integers(0, n - 1))
            hi = int(rng.integers(lo + 1, n + 1))
            weights.update({f"lo{i}": np.array([lo]), f"hi{i}": np.array([hi])})
            inputs, shape = [a, f"lo{i}", f"hi{i}"], (hi - lo,)
        elif op == "Add":
            b = str(rng.choice([v for v in values if values[v].shape == (n,)]))
            inputs, shape = [a, b], (n,)
        elif op == "Reshape":
            weights[f"s{i}"] = np.array([n])
            inputs, shape = [a, f"s{i}"], (n,)
        else:
            op, inputs, shape = "Relu" if op == "Slice" else op, [a], (n,)
        nodes.append(Node(f"n{i}", op, inputs, [f"v{i}"]))
        values[f"v{i}"] = Value(f"v{i}", F32, shape)
    for w, array in weights.items():
        values[w] = Value(w, BY_NAME["i64"], array.shape)
    outputs = [f"v{len(nodes) - 1}", *(f"v{i}" for i in rng.choice(len(nodes), 2))]
    g = Graph("g", nodes, values, weights, ["x"], list(dict.fromkeys(outputs)), opset=17)
    _, inplace, memory = analyse(g)
    assert_every_read_sees_its_value(g, inplace, memory)
    assert_no_live_overlap(memory)


def test_a_value_and_its_view_read_by_one_node_keep_it_out_of_place() -> None:
    # BatchNormalization could overwrite `a`, its last reader, but it also reads `a` as `s`.
    values = {v: Value(v, F32, (1, 6)) for v in ("x", "a", "y")} | {"s": Value("s", F32, (6,))}
    values |= {w: Value(w, F32, (6,)) for w in ("b", "m", "v")} | {"shape": Value("shape", BY_NAME["i64"], (1,))}
    nodes = [Node("relu", "Relu", ["x"], ["a"]), Node("flat", "Reshape", ["a", "shape"], ["s"]),
             Node("bn", "BatchNormalization", ["a", "s", "b", "m", "v"], ["y"])]
    weights = {"shape": np.array([6])} | {w: np.ones(6, np.float32) for w in ("b", "m", "v")}
    g = Graph("g", nodes, values, weights, ["x"], ["y"], opset=17)
    _, inplace, memory = analyse(g)
    assert memory.views["s"].root == "a"
    assert inplace["bn"].reason == "input read twice here"
    assert_every_read_sees_its_value(g, inplace, memory)
