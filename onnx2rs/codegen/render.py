"""The Jinja environment for generated Rust: templates, filters and literals."""

from __future__ import annotations

import contextlib
from typing import Any

import jinja2
import jinja2.bccache

from ..resources import templates_dir
from .names import Names, rust_str


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

    def __init__(self, names: Names, weights: set[str]) -> None:
        """`weights` says which model names are weights (struct fields with a `w_` prefix)."""
        self.names, self._weights = names, weights
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

    def ident(self, name: str) -> str:
        """The Rust identifier of model value `name` (weights get a `w_` prefix)."""
        return self.names.ident(name, "w_" if name in self._weights else "")

    def op(self, template: str, **context: Any) -> str:
        """Render the call site `templates/ops/<template>.rs.j2`."""
        return self.env.get_template(f"ops/{template}.rs.j2").render(**context).strip()

    def file(self, template: str, folder: str = "crate", **context: Any) -> str:
        """Render a file from `templates/<folder>/<template>.j2` (the crate, or its Python bindings)."""
        return self.env.get_template(f"{folder}/{template}.j2").render(**context)
