"""Regenerate docs/ops.md from the op registry: `python scripts/gen_ops_doc.py`."""

from __future__ import annotations

import sys
from pathlib import Path

from onnx2rs.tools.opsdoc import ops_markdown

if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "docs" / "ops.md"
    target.write_text(ops_markdown())
    print(f"wrote {target}")
    sys.exit(0)
