"""Generated Rust spelled in one place: typed calls (ops/rust.py), templates, filters and literals."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import jinja2
import jinja2.bccache

from ..ops.lowering import literal
from ..ops.rust import (
    Alias,
    Arg,
    Array,
    Bool,
    Call,
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
from ..resources import templates_dir
from .names import Names, rust_str
from .sizes import SizeSpeller, is_expression


@dataclass
class Operands:
    """How one node's operands are spelled: the view of each input and output (by position,
    None where there is none), and the plain slices (`Flat`) by input position, None for the output."""

    inputs: list[str | None] = field(default_factory=list)
    outputs: list[str | None] = field(default_factory=list)
    flats: dict[int | None, str] = field(default_factory=dict)

    @staticmethod
    def pick(views: list[str | None], index: int, what: str) -> str:
        """The view at `index`; a lowering that names an operand the node lacks is a compiler bug."""
        view = views[index] if index < len(views) else None
        if view is None:
            raise AssertionError(f"the lowering reads {what} {index}, which has no view here")
        return view


class _BestEffortCache(jinja2.FileSystemBytecodeCache):
    """Jinja's bytecode cache, but a cache that cannot be read or written (a full disk, a
    read-only temp dir) only costs the compile it would have saved, never the build."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError):
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """The cache in the user's own folder under the temp dir, or None where it cannot be made."""
    try:
        return _BestEffortCache()
    except (OSError, RuntimeError):
        return None


_BYTECODE_CACHE = _bytecode_cache()


class Renderer:
    """Renders crate files and op call sites; knows how each value is spelled in Rust."""

    def __init__(self, names: Names, weights: set[str], sizes: SizeSpeller | None = None) -> None:
        """`weights` says which model names are weights (struct fields with a `w_` prefix);
        `sizes` spells the sizes of a graph with open dims."""
        self.names, self.weights = names, weights
        self.sizes = sizes
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir())),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,  # noqa: S701 - output is Rust; model strings pass through rust_str
            # Compiling the templates took 0.25 s of every build; Jinja keys its cache on each
            # template's source, in a folder of the user's own under the temp dir.
            bytecode_cache=_BYTECODE_CACHE,
        )
        self.env.filters["rust_str"] = rust_str
        self.env.filters["ident"] = self.ident
        self.env.filters["dims"] = lambda dims: "[" + ", ".join(str(int(d)) for d in dims) + "]"

    def size(self, value: Any) -> str:
        """An integer, or a size of the open dims as the call's `Sizes` field (codegen/sizes.py)."""
        if self.sizes is None or not is_expression(value):
            return str(int(value))
        return self.sizes.dim(value)

    def ident(self, name: str) -> str:
        """The Rust identifier of model value `name` (weights get a `w_` prefix)."""
        return self.names.ident(name, "w_" if name in self.weights else "")

    def call(self, call: Call, operands: Operands) -> str:
        """The Rust statement of a lowered node (ops/rust.py); empty for an alias."""
        if isinstance(call, Alias):
            return ""
        if isinstance(call, Chain):
            return f"{self.call(call.first, operands)}.and_then(|{call.binding}| {self.call(call.then, operands)})"
        return self.arg(call, operands)

    def arg(self, arg: Arg, operands: Operands | None = None) -> str:
        """One typed argument as Rust; `operands` resolves the node's views (none in sizes)."""
        ops = operands or Operands()
        spell = lambda a: self.arg(a, operands)  # noqa: E731
        match arg:
            case In(index):
                return ops.pick(ops.inputs, index, "input")
            case Out(index):
                return ops.pick(ops.outputs, index, "output")
            case Flat(index):
                return ops.flats[index]
            case Panels(name):
                return f"&self.{self.ident(name)}"
            case Workspace():
                return "&mut s.workspace"
            case Lit(value, dtype):
                return literal(value, dtype)
            case Int(value):
                return self.size(value)
            case Bool(value):
                return "true" if value else "false"
            case Dims(values):
                return "&[" + ", ".join(map(self.size, values)) + "]"
            case Array(items):
                return "&[" + ", ".join(map(spell, items)) + "]"
            case Tuple(items):
                return "(" + ", ".join(map(spell, items)) + ")"
            case Opt(inner):
                return "None" if inner is None else f"Some({spell(inner)})"
            case Ref(inner):
                return f"&{spell(inner)}"
            case Struct(path, fields, defaults):
                if not fields and not defaults:
                    return f"ops::{path}"
                spelled = [f"{name}: {spell(value)}" for name, value in fields]
                return f"ops::{path} {{ {', '.join([*spelled, *(['..Default::default()'] if defaults else [])])} }}"
            case Local(name):
                return name
            case Method(receiver, name, args):
                return f"{spell(receiver)}.{name}({', '.join(map(spell, args))})"
            case Closure(pattern, body):
                return f"|{pattern}| {spell(body)}"
            case Try(inner):
                return f"{spell(inner)}?"
            case RustCall(fn, args):
                return f"ops::{fn}({', '.join(map(spell, args))})"
        raise TypeError(f"not typed Rust: {arg!r}")

    def file(self, template: str, folder: str = "crate", **context: Any) -> str:
        """Render a file from `templates/<folder>/<template>.j2` (the crate, or its Python bindings)."""
        return self.env.get_template(f"{folder}/{template}.j2").render(**context)
