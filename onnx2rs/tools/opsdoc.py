"""docs/ops.md, generated from the op registry so it can never drift from the code."""

from __future__ import annotations

from ..build import REWRITTEN
from ..ops import onnx_ops


def supported_op_types() -> set[str]:
    """Every op type onnx2rs compiles: lowered to a kernel, or rewritten away by a pass."""
    return set(onnx_ops()) | set(REWRITTEN)


def ops_markdown() -> str:
    """The supported-ops page: every op with its family, attributes, dtypes and limits."""
    lines = [
        "# Supported ONNX operators",
        "",
        "Generated from the op registry by `scripts/gen_ops_doc.py` (`make docs`); do not edit.",
        "",
        f"{len(supported_op_types())} op types (default `ai.onnx` domain): {len(onnx_ops())} lowered to runtime "
        f"kernels, and {len(REWRITTEN)} that passes rewrite away before",
        "code generation: `Loop` with a trip count known at build time and `Scan` (opset 9 and later)",
        "over inputs of static length, both unrolled on load by `unroll` (up to 4096 steps);",
        "`Loop` whose trip count or condition is computed at run time (by `loops`: one copy of its",
        "body in a `while` block, where each carried value keeps one static shape, the body holds no",
        "nested subgraph, and no scan output is used, since its length would be known only at run time);",
        "`If` (by `branches` on load: a condition known at build time inlines its branch; a run-time",
        "condition compiles both branches, nested ones too, and the generated code runs the chosen one",
        "per call (`passes/guards.py`); both must give each output one static shape, and a branch that",
        "cannot type-check at the compiled input shapes is left out and is an error if a call takes it),",
        "`Identity` and inference-mode `Dropout` (removed by `sanitize`), `Split` (into Slices),",
        "and `DepthToSpace`/`SpaceToDepth` (into Reshape, Transpose, Reshape),",
        "by `decompose`. `Shape` and `Size` fold into constants, since every shape is static; so does",
        "any op whose inputs are all constants (Range and ConstantOfShape usually do).",
        "",
        "Not supported yet: the scan outputs of a run-time `Loop`, and opset 8's `Scan` (with its",
        "batch axis and `sequence_lens`).",
        "",
        "A model that uses anything else fails at build time with exit code 2, naming every",
        "unsupported op and its nodes. Shapes must be static once the input shapes are fixed",
        "(`--input-shape NAME=D0,D1,...`).",
        "",
        "In place: `yes` ops may overwrite their input when no later node reads it; `view` ops",
        "(Reshape and its kin always, Slice and Gather when they pick one contiguous run) need",
        "no code at all when their input is an intermediate: their output is read where it lies.",
        "",
        "| op | family | attributes | dtypes | in place | limits |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for op, spec in sorted(onnx_ops().items()):
        dtypes = ", ".join(sorted(d.name for d in spec.dtypes))
        attrs = ", ".join(f"`{a}`" for a in spec.attrs) or "-"
        inplace = "yes" if spec.can_run_inplace else "view" if spec.view else "-"
        lines.append(f"| {op} | {spec.family} | {attrs} | {dtypes} | {inplace} | {spec.limits or '-'} |")
    lines += ["", "Rewritten away by a pass:", "", "| op | pass |", "| --- | --- |"]
    lines += [f"| {op} | {', '.join(f'`{name}`' for name in steps)} |" for op, steps in sorted(REWRITTEN.items())]
    return "\n".join(lines) + "\n"
