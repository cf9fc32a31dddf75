"""The sizes of one call, for a graph with open dims (P11): the generated `model::Sizes`.

Generated code reads each open dim from the inputs' shapes once per call, then computes every
shape, arena offset and arena length that depends on them, once each, into one struct that
`forward` reads (`z.h`, `z.x3`). This module collects those expressions while the crate is
lowered and spells them as Rust: i64 arithmetic (floor and ceiling divisions as `div_euclid`),
each result checked to be no dim below 0 before it becomes a `usize`.

A static graph has no `Sizes`: its code spells every number as a literal, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..errors import ModelError
from ..ir import Graph
from .names import RUST_KEYWORDS, rust_str

if TYPE_CHECKING:

    from ..passes import MemoryPlan
    from ..passes.symbolic_plan import SymbolicPlan


def is_expression(x: Any) -> bool:
    """Whether `x` is a size that depends on the open dims (not a number)."""
    if isinstance(x, (int, np.integer, bool)):
        return False
    import sympy

    return isinstance(x, sympy.Expr) and not x.is_Integer


def _open_dim(d: Any) -> str | None:
    """The name of the open dim that `d` is, if it is one (not a number or an expression)."""
    return str(d.name) if is_expression(d) and d.is_Symbol else None


def rust_i64(expr: Any, name: dict[str, str], known: dict[Any, str] | None = None) -> str:
    """`expr` as Rust i64 arithmetic over locals named `name[symbol]`, reading any
    sub-expression that `known` holds from the local it names."""
    import sympy

    if known and not isinstance(expr, (int, np.integer)) and expr in known:
        return known[expr]

    if isinstance(expr, (int, np.integer)) or expr.is_Integer:
        return str(int(expr))
    if expr.is_Symbol:
        if expr.name not in name:
            raise ModelError(f"the size {expr} is no dim of any input, so generated code cannot read it")
        return name[expr.name]
    if isinstance(expr, (sympy.floor, sympy.ceiling)):
        num, den = sympy.fraction(sympy.together(expr.args[0]))
        if den == 1:
            return rust_i64(num, name, known)
        if isinstance(expr, sympy.ceiling):
            num = num + den - 1  # dims and divisors are positive
        return f"{_atom(num, name, known)}.div_euclid({rust_i64(den, name, known)})"
    if isinstance(expr, (sympy.Max, sympy.Min)):
        # A receiver must not be a bare literal (`2.max(h)` has no type in Rust).
        first, *rest = sorted(expr.args, key=lambda a: a.is_Number)
        method = "max" if isinstance(expr, sympy.Max) else "min"
        return _atom(first, name, known) + "".join(f".{method}({rust_i64(a, name, known)})" for a in rest)
    if isinstance(expr, sympy.Mod):
        return f"{_atom(expr.args[0], name, known)}.rem_euclid({rust_i64(expr.args[1], name, known)})"
    num, den = sympy.fraction(sympy.together(expr))
    if den != 1:
        return f"{_atom(num, name, known)}.div_euclid({rust_i64(den, name, known)})"  # exact where the model is valid
    if expr.is_Add:
        terms = sorted(expr.args, key=lambda t: (t.could_extract_minus_sign(), sympy.default_sort_key(t)))
        first = terms[0]
        text = f"-{_atom(-first, name, known)}" if first.could_extract_minus_sign() else rust_i64(first, name, known)
        for t in terms[1:]:
            negative = t.could_extract_minus_sign()
            text += f" {'-' if negative else '+'} {_factor(-t if negative else t, name, known)}"
        return text
    if expr.is_Mul:
        coeff, rest = expr.as_coeff_Mul()
        if coeff == -1:
            return f"-{_atom(rest, name, known)}"
        factors = ([str(int(coeff))] if coeff != 1 else []) + [_atom(f, name, known) for f in sympy.Mul.make_args(rest)]
        return " * ".join(factors)
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
        return " * ".join([_atom(expr.base, name, known)] * int(expr.exp))
    raise ValueError(f"no Rust for the size expression {expr}")


def _atom(expr: Any, name: dict[str, str], known: dict[Any, str] | None) -> str:
    """`expr` as a Rust operand of a method call or a product: parenthesised unless it is one term."""
    text = rust_i64(expr, name, known)
    if text.lstrip("-").isdigit():
        return f"{text}_i64" if not text.startswith("-") else f"({text}_i64)"  # typed, as a receiver may be
    return text if text.replace("_", "").isalnum() or text.endswith(")") and _balanced(text) else f"({text})"


def _factor(expr: Any, name: dict[str, str], known: dict[Any, str] | None) -> str:
    """`expr` as an operand of + or -: a sum is parenthesised."""
    text = rust_i64(expr, name, known)
    return f"({text})" if expr.is_Add else text


def _balanced(text: str) -> bool:
    """Whether `text` (ending in ")") is one operand: no operator outside parentheses."""
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and ch in "+-* ":
            return False
    return True


class SizeSpeller(Protocol):
    """How a `Renderer` spells a size that depends on the open dims."""

    def dim(self, x: Any) -> str:
        """Rust for size `x`."""
        ...


@dataclass
class Field:
    """One `Sizes` field: its name, its Rust computation in `Sizes::of`, and what it is."""

    name: str
    rust: str
    doc: str


class SizeTable:
    """Every size of the generated code that depends on the open dims, as `Sizes` fields."""

    def __init__(self, graph: Graph, plan: SymbolicPlan, memory: MemoryPlan) -> None:
        import sympy

        self.graph, self.plan, self.memory = graph, plan, memory
        # Each open dim's Rust name (snake case, never one of the generated names), in order
        # of first appearance.
        read = {_open_dim(d) for name in graph.inputs for d in graph.value(name).shape} - {None}
        self.locals: dict[str, str] = {}
        for s in graph.probe:
            if s in read:  # an open dim that a constraint merged into another is read as that one
                self.locals[s] = _rust_name(s, set(self.locals.values()))
        self.symbols = list(self.locals.values())
        self._prefix = "x"
        self._fields: dict[Any, str] = {sympy.Symbol(s, integer=True, positive=True): r for s, r in self.locals.items()}
        self.exprs: list[Field] = []

    def dim(self, x: Any) -> str:
        """How `forward` spells size `x`: a literal, or a field of `z`."""
        if not is_expression(x):
            return str(int(x))
        if x not in self._fields:
            self._fields[x] = f"{self._prefix}{len(self.exprs)}"
            # Earlier fields are locals of `Sizes::of` by now: a longer expression reads them.
            known = {e: f for e, f in self._fields.items() if e != x and not e.is_Symbol}
            self.exprs.append(Field(self._fields[x], rust_i64(x, self.locals, known), str(x)))
        return f"z.{self._fields[x]}"

    def shape(self, shape: Any) -> str:
        """A shape literal `&[z.n, 3, z.x0]`."""
        return "&[" + ", ".join(self.dim(d) for d in shape) + "]"

    def bounds(self, name: str) -> tuple[str, str]:
        """The element range of intermediate `name` in its arena, as Rust."""
        value = self.graph.value(name)
        buffer = self.memory.buffers.index(self.memory.buffer_of(name))
        within = self.memory.buffer_of(name).within.get(name, 0) // value.dtype.numpy.itemsize
        start = f"z.at{buffer}" + (f" + {within}" if within else "")
        size = self.dim(value.size)
        return start, f"{start} + {size}" if size != "0" else start

    def context(self, inputs: list[str]) -> dict[str, Any]:
        """What model.rs.j2 writes `Sizes` from: the open dims by input and axis, every expression,
        the buffers' offsets and the arenas' lengths."""
        first: dict[str, tuple[str, int]] = {}
        reads = []
        for i, name in enumerate(inputs):
            shape = self.graph.value(name).shape
            axes = []
            for axis, d in enumerate(shape):
                dim = _open_dim(d)
                if dim is not None and dim not in first:
                    first[dim] = (name, axis)
                    axes.append(("open", axis, self.locals[dim]))
                elif dim is not None:
                    axes.append(("same", axis, self.locals[dim]))
                elif is_expression(d):
                    axes.append(("expr", axis, rust_i64(d, self.locals)))
                else:
                    axes.append(("fixed", axis, str(int(d))))
            reads.append({"index": i, "name": name, "rank": len(shape), "axes": axes})
        fields = {e: f for e, f in self._fields.items() if not e.is_Symbol}  # all computed by then
        itemsize = {b.dtype: self.graph.value(b.values[0]).dtype.numpy.itemsize for b in self.memory.buffers}
        buffers = []
        for i in self.plan.order:
            above = [f"o{j} + b{j}" for j in self.plan.above[i]]
            offset = "0" if not above else above[0] if len(above) == 1 else \
                f"({above[0]})" + "".join(f".max({a})" for a in above[1:])
            b = self.memory.buffers[i]
            buffers.append({"index": i, "size": rust_i64(self.plan.sizes[i], self.locals, fields), "offset": offset,
                            "itemsize": itemsize[b.dtype], "holds": b.values[0], "arena": b.dtype})
        arenas: dict[str, list[str]] = {}
        for i, b in enumerate(self.memory.buffers):
            arenas.setdefault(b.dtype, []).append(f"o{i} + b{i}")
        equalities = [(rust_i64(a, self.locals, fields), rust_i64(b, self.locals, fields), f"{a} = {b}")
                      for a, b in self.graph.equalities]
        return {
            "equalities": equalities,
            "symbols": self.symbols,
            "reads": reads,
            "exprs": self.exprs,
            "buffers": buffers,
            "arena_ends": {d: (ends, itemsize[d]) for d, ends in sorted(arenas.items())},
        }


# Names that generated `Sizes` code uses itself (locals of `Sizes::of`, fields, methods).
_GENERATED = re.compile(r"(x|b|o|at)\d+|len_.*|shape|inputs|dims|fitted|z|self|ok|err|result|usize|i64")


def _rust_name(dim: str, taken: set[str]) -> str:
    """A snake-case Rust name for open dim `dim` unlike every generated name and `taken`."""
    base = re.sub(r"[^a-z0-9_]+", "_", dim.lower()).strip("_") or "dim"
    if base[0].isdigit() or _GENERATED.fullmatch(base) or base in RUST_KEYWORDS:
        base = f"dim_{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def doc_shape(shape: Any) -> str:
    """A shape for documentation: `[n, 3, h, w]` (expressions as sympy writes them)."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


def expression_text(expr: Any) -> str:
    """An expression as a Rust string literal, for error messages."""
    return rust_str(str(expr))


__all__ = ["Field", "SizeSpeller", "SizeTable", "doc_shape", "is_expression", "rust_i64"]
