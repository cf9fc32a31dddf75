"""The errors onnx2rs reports to users: one line each, and exit code 2 from the CLI."""

from __future__ import annotations


class Onnx2rsError(Exception):
    """A problem with the user's model or request; the CLI prints it without a traceback."""

    exit_code = 2


class ModelError(Onnx2rsError):
    """The model file is unreadable, malformed or inconsistent."""


class UnsupportedError(Onnx2rsError):
    """The model uses ops, attributes or dtypes that onnx2rs cannot compile yet."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        """`problems` maps each unsupported op (with its reason) to the nodes that use it."""
        self.problems = problems
        if len(problems) == 1 and len(nodes := next(iter(problems.values()))) <= 3:
            op = next(iter(problems))
            super().__init__(f"unsupported op {op} in node(s) {', '.join(repr(n) for n in nodes)}; "
                             "docs/ops.md lists what is supported")
            return
        lines = [
            f"  {op}: {len(nodes)} node(s): {', '.join(repr(n) for n in nodes[:5])}"
            + (" ..." if len(nodes) > 5 else "")
            for op, nodes in sorted(problems.items())
        ]
        super().__init__(
            f"{len(problems)} unsupported op(s), see docs/ops.md for what is supported:\n"
            + "\n".join(lines)
        )


class ToolchainError(Onnx2rsError):
    """cargo or rustfmt failed or is missing."""
