"""docs/ops.md is generated from the registry and must be current."""

from __future__ import annotations

from pathlib import Path

from onnx2rs.tools.opsdoc import ops_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_ops_doc_is_current() -> None:
    assert (ROOT / "docs" / "ops.md").read_text() == ops_markdown(), "run `make docs`"
