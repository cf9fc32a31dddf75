"""Turning names from a model file into Rust identifiers and string literals.

Model files are untrusted: nothing from them reaches generated source except
through `Names.ident` (which emits only `[a-z0-9_]`) or `rust_str` (a fully
escaped string literal).
"""

from __future__ import annotations

import re

RUST_KEYWORDS = frozenset([
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move",
    "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
    "type", "union", "unsafe", "use", "where", "while", "abstract", "become", "box", "do",
    "final", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield"
])
# Names the generated code itself uses in the same scope.
RESERVED = frozenset({"ops", "ok", "err", "some", "none", "result", "weights", "model", "main"})
MAX_LEN = 48


class Names:
    """An injective map from model names to Rust identifiers, in one namespace.

    The same model name always gets the same identifier; different names never share one.
    """

    def __init__(self, reserved: frozenset[str] = frozenset()) -> None:
        """Start an empty namespace; `reserved` identifiers are never handed out."""
        self._by_name: dict[str, str] = {}
        self._taken: set[str] = set(reserved)

    def ident(self, name: str, prefix: str = "") -> str:
        """The identifier for `name` (lowercase snake case), allocating it on first use."""
        key = prefix + "\0" + name
        if key in self._by_name:
            return self._by_name[key]
        base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:MAX_LEN].rstrip("_")
        base = prefix + base if prefix else base
        if not base or base[0].isdigit():
            base = "v_" + base
        if base in RUST_KEYWORDS or base in RESERVED:
            base += "_"
        candidate, i = base, 2
        while candidate in self._taken:
            # `type_` + `_2` would be `type__2`, which is not snake case.
            candidate, i = f"{base.rstrip('_')}_{i}", i + 1
        self._taken.add(candidate)
        self._by_name[key] = candidate
        return candidate


def rust_str(text: str) -> str:
    """A Rust string literal that spells `text`; every non-printable or non-ASCII char is escaped."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append(f"\\u{{{ord(ch):x}}}")
    return '"' + "".join(out) + '"'


# Crate names a generated crate cannot take: the language's own crates and path roots,
# and the crates the generated code and its bindings depend on.
RESERVED_CRATES = frozenset({"std", "core", "alloc", "proc_macro", "test", "crate", "self", "super",
                             "onnx2rs_runtime", "ndarray", "rayon", "libm", "allocation_counter",
                             "numpy", "pyo3"})


def crate_name(name: str) -> str:
    """A valid Cargo package and Rust crate name derived from `name` (`_model` appended to a
    keyword or a reserved crate name)."""
    ident = Names().ident(name).rstrip("_") or "model"
    return f"{ident}_model" if ident in RUST_KEYWORDS or ident in RESERVED_CRATES else ident


def shadowed_module(name: str) -> str | None:
    """What a Python module called `name` would shadow: a standard-library module or an
    installed package; None if nothing."""
    import importlib.util
    import sys

    if name in sys.stdlib_module_names:
        return "a Python standard-library module"
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    return "an installed Python package" if found else None
