"""Typed Rust: what a lowering returns, and what `codegen/render.py` alone turns into text.

A lowering never writes Rust. It returns a `RustCall` to a runtime function
(`ops::<fn>`) whose arguments say what they are: a view of one of the node's operands
(`In`, `Out`, `Flat`), a weight stored as panels, the shared workspace, a literal, a
shape, a params struct or enum variant, or a value bound by an earlier check (`Chain`).
Code generation resolves each operand to its arena slice or weight and spells the rest,
so the spelling of Rust lives in one place and every function a lowering can name is a
plain string that tests/unit/test_runtime_names.py compares with the runtime's exports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..dtypes import DType


@dataclass(frozen=True)
class In:
    """A read-only view (`ArrayViewD`) of the node's input `index`."""

    index: int


@dataclass(frozen=True)
class Out:
    """A mutable view (`ArrayViewMutD`) of the node's output `index`, its arena slice."""

    index: int = 0


@dataclass(frozen=True)
class Flat:
    """The plain slice behind an arena operand: input `index`, or the output when None."""

    index: int | None = None


@dataclass(frozen=True)
class Panels:
    """The weight `name`, stored as the runtime's panels of a product's B (`&self.<weight>`)."""

    name: str


@dataclass(frozen=True)
class Workspace:
    """The kernel scratch that every node shares (`&mut s.workspace`)."""


@dataclass(frozen=True, eq=False)
class Lit:
    """A scalar literal of element type `dtype` (`0.5_f32`, `f32::NAN`, `true`)."""

    value: Any
    dtype: DType


@dataclass(frozen=True)
class Int:
    """A plain integer literal: an axis, a count, a size."""

    value: int


@dataclass(frozen=True)
class Bool:
    """`true` or `false`."""

    value: bool


@dataclass(frozen=True)
class Dims:
    """A slice literal of integers, `&[a, b]` (a shape, axes, a permutation, signed pads)."""

    values: tuple[int, ...]


@dataclass(frozen=True)
class Array:
    """A slice literal of arguments, `&[a, b]`."""

    items: tuple[Arg, ...]


@dataclass(frozen=True)
class Tuple:
    """A tuple, `(a, b, c)`."""

    items: tuple[Arg, ...]


@dataclass(frozen=True)
class Opt:
    """`Some(arg)`, or `None` when `arg` is None."""

    arg: Arg | None


@dataclass(frozen=True)
class Ref:
    """A shared borrow, `&arg`."""

    arg: Arg


@dataclass(frozen=True)
class Struct:
    """`ops::<path> { field: value, .. }`: a params struct or a variant with fields; a bare
    `ops::<path>` with no fields; `..Default::default()` last when `defaults`."""

    path: str
    fields: tuple[tuple[str, Arg], ...] = ()
    defaults: bool = False


@dataclass(frozen=True)
class Local:
    """A binding that a `Chain` made (`ranges`, `begin`)."""

    name: str


@dataclass(frozen=True)
class Method:
    """`receiver.name(args)`."""

    receiver: Arg
    name: str
    args: tuple[Arg, ...] = ()


@dataclass(frozen=True)
class Closure:
    """`|pattern| body`; `pattern` is Rust's (`(_, len)`), never a model's name."""

    pattern: str
    body: Arg


@dataclass(frozen=True)
class Try:
    """`arg?`: a fallible read inside an argument list."""

    arg: Arg


@dataclass(frozen=True)
class RustCall:
    """`ops::<fn>(args)`; `fallible` if it returns `Result`."""

    fn: str
    args: tuple[Arg, ...] = ()
    fallible: bool = True

    def __post_init__(self) -> None:
        for arg in self.args:
            if not isinstance(arg, Arg):  # a str would be Rust written outside render.py
                raise TypeError(f"ops::{self.fn}: argument {arg!r} is not typed Rust (ops/rust.py)")


@dataclass(frozen=True)
class Chain:
    """`first.and_then(|binding| then)`: a check or operand read, then the kernel that uses it."""

    first: RustCall | Chain
    binding: str
    then: RustCall | Chain


@dataclass(frozen=True)
class Alias:
    """No code: the output is a view of input 0's buffer."""


Arg = (In | Out | Flat | Panels | Workspace | Lit | Int | Bool | Dims | Array | Tuple | Opt | Ref | Struct | Local
       | Method | Closure | Try | RustCall)
# What a lowering returns.
Call = RustCall | Chain | Alias


def fallible(call: Call) -> bool:
    """Whether the statement for `call` returns `Result` (a chain always does)."""
    return isinstance(call, Chain) or (isinstance(call, RustCall) and call.fallible)


def dims(values: Any) -> Dims:
    """`Dims` of any iterable of integers (or sizes of open dims, sympy expressions, as they are)."""
    return Dims(tuple(v if hasattr(v, "free_symbols") else int(v) for v in values))
