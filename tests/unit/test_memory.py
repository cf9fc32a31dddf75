"""liveness, inplace and memory_plan on small hand-built graphs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from onnx2rs.dtypes import F32
from onnx2rs.ir import Graph, Node, Value
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
