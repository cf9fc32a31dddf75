"""Run-time loops in the IR: the schedule, liveness and the in-place rule (no cargo)."""

from __future__ import annotations

import pytest

from onnx2rs import CompileOptions
from onnx2rs.build import lower_model
from onnx2rs.errors import ModelError
from onnx2rs.passes import analyse

from ..ops.test_loop import _loop_model, _runtime_loops_model


def test_values_read_by_a_loop_body_live_until_its_end_and_are_never_overwritten() -> None:
    _, graph, _ = lower_model(_runtime_loops_model(), CompileOptions())
    live, inplace, _ = analyse(graph)
    loops = graph.loops()
    assert len(loops) == 2
    checked = 0
    for begin, end in loops:
        outer = {v for n in graph.nodes[begin + 1:end] for v in n.inputs if v in live and live[v].start < begin}
        assert outer, "each body reads values defined before its loop"
        for v in outer:
            assert live[v].end >= end, f"{v} must stay live until LoopEnd"
            checked += 1
        for node in graph.nodes[begin + 1:end]:
            decision = inplace[node.name]
            assert not (decision.inplace and decision.input in outer), f"{node.name} overwrites {decision.input}"
    assert checked >= 4


def test_nodes_that_do_not_depend_on_the_loop_run_before_it() -> None:
    _, graph, _ = lower_model(_runtime_loops_model(), CompileOptions())
    (begin, end), _ = graph.loops()
    inside = set(graph.nodes[begin].outputs)
    for node in graph.nodes[begin + 1:end]:
        assert any(v in inside for v in node.inputs), f"{node.name} does not depend on the loop"
        inside.update(node.outputs)
    (double,) = [n for n in graph.nodes if n.op_type == "Mul"]  # 2·relu(x), written in the body
    assert double in graph.nodes[:begin]


def test_a_loop_with_a_run_time_trip_count_and_a_used_scan_output_names_both() -> None:
    with pytest.raises(ModelError, match=r"run-time length; onnx2rs needs static shapes"):
        lower_model(_loop_model(None, 10), CompileOptions(input_shapes={"trips": []}))
