"""Size expressions spelled as Rust i64 arithmetic (codegen/sizes.py), read back and evaluated.

The Rust text is evaluated in Python over integers that behave as Rust's i64 methods do
(`div_euclid`, `rem_euclid`, `max`, `min`), and must equal sympy's value of the expression at
random sizes: the floor divisions of convolution and pooling, ceilings of the plan's alignment,
clamps of slicing, and products.
"""

from __future__ import annotations

import re

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from onnx2rs.codegen.sizes import rust_i64

H, W = (sympy.Symbol(s, integer=True, positive=True) for s in "HW")
NAMES = {"H": "h", "W": "w"}


class I64(int):
    """An int with the i64 methods generated code calls; arithmetic stays I64."""

    def div_euclid(self, d: int) -> I64:
        assert d > 0
        return I64(int(self) // int(d))

    def rem_euclid(self, d: int) -> I64:
        return I64(int(self) % int(d))

    def max(self, o: int) -> I64:
        return I64(max(int(self), int(o)))

    def min(self, o: int) -> I64:
        return I64(min(int(self), int(o)))

    def __add__(self, o: int) -> I64:
        return I64(int(self) + int(o))

    __radd__ = __add__

    def __sub__(self, o: int) -> I64:
        return I64(int(self) - int(o))

    def __rsub__(self, o: int) -> I64:
        return I64(int(o) - int(self))

    def __mul__(self, o: int) -> I64:
        return I64(int(self) * int(o))

    __rmul__ = __mul__

    def __neg__(self) -> I64:
        return I64(-int(self))


def _evaluate(rust: str, h: int, w: int) -> int:
    # Every literal becomes an I64, so a literal receiver works as its typed Rust form does.
    text = re.sub(r"(?<![\w.])(\d+)(_i64)?", r"I64(\1)", rust)
    return int(eval(text, {"I64": I64, "h": I64(h), "w": I64(w)}))  # noqa: S307 - our own generated text


leaf = st.sampled_from([H, W, sympy.Integer(1), sympy.Integer(2), sympy.Integer(7)])


def _grow(children: st.SearchStrategy) -> st.SearchStrategy:
    pair = st.tuples(children, children)
    return st.one_of(
        pair.map(lambda p: p[0] + p[1]),
        pair.map(lambda p: p[0] - p[1]),
        pair.map(lambda p: p[0] * p[1]),
        st.tuples(children, st.integers(2, 9)).map(lambda p: sympy.floor(p[0] / p[1])),
        st.tuples(children, st.integers(2, 9)).map(lambda p: sympy.ceiling(p[0] / p[1])),
        st.tuples(children, st.integers(1, 5), st.integers(2, 4)).map(
            lambda p: sympy.floor(p[0] / p[2] - sympy.Rational(p[1], p[2]))),  # a padded, strided window
        pair.map(lambda p: sympy.Max(p[0], p[1])),
        pair.map(lambda p: sympy.Min(p[0], p[1])),
        st.tuples(children, st.integers(2, 9)).map(lambda p: sympy.Mod(p[0], p[1])),
    )


expressions = st.recursive(leaf, _grow, max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(expressions, st.integers(1, 400), st.integers(1, 400))
def test_rust_spelling_evaluates_as_sympy_does(expr: sympy.Expr, h: int, w: int) -> None:
    expected = int(sympy.sympify(expr).subs({H: h, W: w}))
    assert _evaluate(rust_i64(sympy.sympify(expr), NAMES), h, w) == expected, rust_i64(sympy.sympify(expr), NAMES)


def test_shapes_exporters_write() -> None:
    conv = sympy.floor((H + 2 - 3) / 2) + 1
    pooled = sympy.floor(sympy.floor(H / 2 - sympy.Rational(1, 2)) / 2) + 1
    aligned = 64 * sympy.ceiling(4 * H * W / 64)
    clamp = sympy.Min(sympy.Max(W - 3, 0), W)
    for expr in (conv, pooled, aligned, clamp, sympy.Max(2, H)):
        rust = rust_i64(expr, NAMES)
        assert ".div_euclid(" in rust or "max" in rust or "min" in rust or rust.count("*") >= 1, rust
        for h, w in [(1, 1), (2, 5), (33, 640), (736, 960)]:
            assert _evaluate(rust, h, w) == int(expr.subs({H: h, W: w})), (rust, h, w)
    assert not re.search(r"(?<![\w.])\d+\.(max|min|div_euclid)", rust_i64(sympy.Max(2, H) * 3, NAMES))
