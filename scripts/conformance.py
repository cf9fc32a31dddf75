"""Run the ONNX backend test suite through onnx2rs and regenerate docs/conformance.md.

    .venv/bin/python scripts/conformance.py                 # every case (a few minutes on 2 cores)
    .venv/bin/python scripts/conformance.py --pattern relu  # a subset; does not touch the docs
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from onnx2rs.tools import conformance
from onnx2rs.tools.opsdoc import supported_op_types

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    """Run, print the totals, and write the report when running everything."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pattern", help="only cases whose name matches this regex")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "conformance.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("onnx2rs.frontend.load").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    cases = conformance.collect(pattern=args.pattern)
    report = conformance.run(cases)
    print(dict(report.totals()))
    if args.pattern is None:
        args.out.write_text(conformance.markdown(report, supported_op_types()))
        print(f"wrote {args.out}")
    for r in report.results:
        if r.status in ("fail", "error"):
            print(f"{r.status:5} {r.case}: {r.detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
