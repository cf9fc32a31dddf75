"""Typed calls (ops/rust.py): lowering returns data, and codegen/render.py alone spells it.

The spelling of every argument kind is pinned here; that whole crates come out the same is
pinned by the codegen snapshots and checked against ONNX Runtime by the op cases.
"""

from __future__ import annotations

import pytest

from onnx2rs.codegen.names import Names
from onnx2rs.codegen.render import Operands, Renderer
from onnx2rs.dtypes import BY_RUST
from onnx2rs.ops.rust import (
    Alias,
    Array,
    Bool,
    Chain,
    Closure,
    Dims,
    Flat,
    In,
    Int,
    Lit,
    Local,
    Method,
    Opt,
    Out,
    Panels,
    Ref,
    RustCall,
    Struct,
    Try,
    Tuple,
    Workspace,
)

F32 = BY_RUST["f32"]


def _renderer() -> Renderer:
    return Renderer(Names(), {"w"})


def test_a_string_is_not_an_argument() -> None:
    """Rust written outside render.py is refused where the call is built."""
    with pytest.raises(TypeError, match="not typed Rust"):
        RustCall("relu_into", ("x.view()",))  # type: ignore[arg-type]


def test_each_argument_kind_is_spelled_once_here() -> None:
    operands = Operands(["in0_view", None, "self_b"], ["out_view"], {0: "in0", None: "out"})
    call = RustCall("k", (
        In(0), In(2), Out(), Flat(0), Flat(), Panels("w"), Workspace(), Lit(0.5, F32), Int(3), Bool(False),
        Dims((1, -2)), Array((In(0), In(2))), Tuple((Int(0), Int(4), Int(1))), Opt(None), Opt(In(2)),
        Ref(In(0)), Struct("Unary::Relu"), Struct("P", (("a", Int(1)), ("b", Bool(True)))),
        Struct("P", (("a", Int(1)),), defaults=True), Method(Local("r"), "as_slice"),
        Method(RustCall("f", ()), "map_or", (Int(0), Closure("(_, n)", Local("n")))),
        Try(RustCall("scalar", (Ref(In(2)),))),
    ))
    spelled = _renderer().call(call, operands)
    assert spelled == (
        "ops::k(in0_view, self_b, out_view, in0, out, &self.w_w, &mut s.workspace, 0.5_f32, 3, false, &[1, -2], "
        "&[in0_view, self_b], (0, 4, 1), None, Some(self_b), &in0_view, ops::Unary::Relu, ops::P { a: 1, b: true }, "
        "ops::P { a: 1, ..Default::default() }, r.as_slice(), ops::f().map_or(0, |(_, n)| n), ops::scalar(&self_b)?)"
    )


def test_a_chain_and_an_alias() -> None:
    operands = Operands(["x", "shape"], ["out"])
    chain = Chain(RustCall("check", (Ref(In(1)),)), "()", RustCall("copy_into", (In(0), Out())))
    assert _renderer().call(chain, operands) == "ops::check(&shape).and_then(|()| ops::copy_into(x, out))"
    assert _renderer().call(Alias(), operands) == ""


def test_an_operand_the_node_lacks_is_a_compiler_bug() -> None:
    with pytest.raises(AssertionError, match="input 1"):
        _renderer().call(RustCall("k", (In(1),)), Operands(["x", None], ["out"]))
