"""Finding the templates and the runtime crate, from a wheel or from a source checkout.

A wheel ships them inside the package as `onnx2rs/_data/`; an editable install
reads them from the repository's top level, where the design card puts them.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"onnx2rs is installed without its {name}/ folder")


def templates_dir() -> Path:
    """The folder holding the Jinja2 templates."""
    return _find("templates")


def runtime_dir() -> Path:
    """The folder holding the onnx2rs-runtime crate (Cargo.toml and src/)."""
    return _find("runtime-crate")


@cache
def runtime_constant(source: str, name: str) -> int:
    """The value of `pub const NAME: usize = N;` in the runtime's `src/<source>`: the
    runtime owns its formats, and the compiler reads them here rather than copying them."""
    text = (runtime_dir() / "src" / source).read_text(encoding="utf-8")
    found = re.search(rf"^pub const {re.escape(name)}: usize = (\d+);$", text, re.MULTILINE)
    if found is None:
        raise LookupError(f"runtime-crate/src/{source} defines no `pub const {name}: usize`")
    return int(found.group(1))
