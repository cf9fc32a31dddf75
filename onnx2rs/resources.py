"""Finding the templates and the runtime crate, from a wheel or from a source checkout.

A wheel ships them inside the package as `onnx2rs/_data/`; an editable install
reads them from the repository's top level, where the design card puts them.
"""

from __future__ import annotations

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
