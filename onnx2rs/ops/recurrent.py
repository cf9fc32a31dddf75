"""Recurrent layers: RNN, GRU and LSTM (forward, reverse, bidirectional; sequence_lens; layout).

One runtime loop (`ops::recurrent_into`) serves all three cells; state and gates
live in the shared workspace. Spec: https://onnx.ai/onnx/operators/onnx__LSTM.html
(and onnx__GRU.html, onnx__RNN.html).
"""

from __future__ import annotations

from ..dtypes import F32
from ..ir import Graph, Node
from . import Call, Lowering, register
from .elementwise import f64_literal
from .rust import Arg, Array, Bool, Int, Opt, RustCall, Struct

_DEFAULTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}
# Activation name (lower case) -> (Unary variant, default alpha, default beta); None: no such parameter.
_ACTIVATIONS: dict[str, tuple[str, float | None, float | None]] = {
    "relu": ("Relu", None, None),
    "tanh": ("Tanh", None, None),
    "sigmoid": ("Sigmoid", None, None),
    "softsign": ("Softsign", None, None),
    "softplus": ("Softplus", None, None),
    "leakyrelu": ("LeakyRelu", 0.01, None),
    "thresholdedrelu": ("ThresholdedRelu", 1.0, None),
    "elu": ("Elu", 1.0, None),
    "hardsigmoid": ("HardSigmoid", 0.2, 0.5),
    "affine": ("Affine", 1.0, 0.0),
    "scaledtanh": ("ScaledTanh", 1.0, 1.0),
}


def _directions(node: Node) -> int:
    return 2 if node.attrs.get("direction", "forward") == "bidirectional" else 1


def _activation_names(node: Node) -> list[str]:
    return list(node.attrs.get("activations") or _DEFAULTS[node.op_type] * _directions(node))


def _check(node: Node, graph: Graph) -> str | None:
    if node.attrs.get("direction", "forward") not in ("forward", "reverse", "bidirectional"):
        return f"direction {node.attrs.get('direction')!r}"
    if node.attrs.get("input_forget", 0):
        return "input_forget"
    names = _activation_names(node)
    if len(names) != len(_DEFAULTS[node.op_type]) * _directions(node):
        return f"{len(names)} activations"
    unknown = [a for a in names if a.lower() not in _ACTIVATIONS]
    return f"activation {unknown[0]!r}" if unknown else None


def _unary(node: Node) -> list[Struct]:
    """The `ops::Unary` of each activation; alpha and beta are consumed in order by the
    activations that take them."""
    alphas = iter(node.attrs.get("activation_alpha", []))
    betas = iter(node.attrs.get("activation_beta", []))
    spelled = []
    for name in _activation_names(node):
        variant, alpha, beta = _ACTIVATIONS[name.lower()]
        fields: list[tuple[str, Arg]] = []
        if alpha is not None:
            fields.append(("alpha", f64_literal(next(alphas, alpha))))
        if beta is not None:
            fields.append(("beta", f64_literal(next(betas, beta))))
        spelled.append(Struct(f"Unary::{variant}", tuple(fields)))
    return spelled


@register("RNN", "GRU", "LSTM", dtypes=frozenset({F32}), check=_check,
          attrs=("activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size",
                 "layout", "linear_before_reset"),
          limits="f32; LSTM without input_forget.")
def lower_recurrent(ctx: Lowering) -> Call:
    """`ops::recurrent_into(params, inputs, outputs, workspace)` for any of the three cells."""
    op = ctx.node.op_type
    hidden = int(ctx.attr("hidden_size") or ctx.input(2).shape[-1])
    batch_first = bool(ctx.attr("layout", 0))
    batch = ctx.input(0).shape[0 if batch_first else 1]
    linear_before_reset = Bool(bool(ctx.attr("linear_before_reset", 0)))
    cell = {"RNN": Struct("Cell::Rnn"), "LSTM": Struct("Cell::Lstm"),
            "GRU": Struct("Cell::Gru", (("linear_before_reset", linear_before_reset),))}[op]
    gates = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
    clip = ctx.attr("clip")
    lstm = op == "LSTM"
    none = Opt(None)
    params = Struct("RecurrentParams", (
        ("cell", cell),
        ("hidden", Int(hidden)),
        ("reverse", Bool(ctx.attr("direction", "forward") == "reverse")),
        ("activations", Array(tuple(_unary(ctx.node)))),
        ("clip", Opt(ctx.literal(clip, F32) if clip is not None else None)),
        ("batch_first", Bool(batch_first)),
    ))
    inputs = Struct("RecurrentInputs", (
        ("x", ctx.arg(0)), ("w", ctx.arg(1)), ("r", ctx.arg(2)), ("b", ctx.opt_arg(3)),
        ("sequence_lens", ctx.opt_arg(4)), ("initial_h", ctx.opt_arg(5)),
        ("initial_c", ctx.opt_arg(6) if lstm else none), ("p", ctx.opt_arg(7) if lstm else none),
    ))
    outputs = Struct("RecurrentOutputs", (
        ("y", ctx.opt_out(0)), ("y_h", ctx.opt_out(1)), ("y_c", ctx.opt_out(2) if lstm else none),
    ))
    # States and gates per batch row, then one direction's W and R transposed
    # (`Cell::workspace` in recurrent.rs).
    workspace = ctx.workspace(batch * hidden * (3 + gates) + gates * hidden * (ctx.input(0).shape[-1] + hidden))
    return RustCall("recurrent_into", (params, inputs, outputs, workspace))
