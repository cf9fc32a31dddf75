"""Control flow: the `Phi` that joins the two branches of a flattened run-time `If`.

ONNX `If` (https://onnx.ai/onnx/operators/onnx__If.html) runs one of two subgraphs.
Loading inlines both (`branches.py`) and joins each pair of branch outputs with
`Phi(cond, then_value, else_value)`, an op of the IR's own domain. Which branch's nodes
run is decided per call from the Phis (`passes/guards.py`); the Phi itself copies
the chosen value into its output. A branch that cannot even type-check at the
compiled input shapes is left out (an empty input), and choosing it is a run-time error,
as in ONNX Runtime.
"""

from __future__ import annotations

from ..dtypes import BOOL
from ..ir import IR_DOMAIN, Graph, Node
from . import Call, Lowering, register


def _one_condition(node: Node, graph: Graph) -> str | None:
    if graph.value(node.inputs[0]).size != 1:
        return "the If condition must hold one element"
    return None


@register("Phi", dtypes=frozenset({BOOL}), check=_one_condition, domain=IR_DOMAIN,
          limits="the branches of a run-time If must agree on each output's static shape")
def lower_phi(ctx: Lowering) -> Call:
    """`ops::phi_into(cond, Some(then), Some(else), out)`: the value of the branch that ran."""
    return ctx.call("phi_into", ctx.arg(0), ctx.opt_arg(1), ctx.opt_arg(2), ctx.out())
