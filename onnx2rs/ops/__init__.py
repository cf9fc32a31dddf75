"""The op registry: every supported ONNX op registers itself beside its lowering.

An op module defines a lowering function and decorates it with `@register`,
which records the dtypes it accepts, an optional attribute check, whether it can
run in place, and its known limits (for docs/ops.md). No other list names ops.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

from ..dtypes import DType
from ..ir import Graph, Node
from .lowering import Call, Lowering

Check = Callable[[Node, Graph], "str | None"]
# The element offset at which a node's output lies in its input 0, or None (see passes/views.py).
ViewOffset = Callable[[Node, Graph], "int | None"]
# Which of a node's inputs its output may overwrite (see passes/inplace.py), or None.
InplaceInput = Callable[[Node], "int | None"]


# Ops whose every run draws new values: never folded into constants, at load or in the passes.
NONDETERMINISTIC = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}
)


def first_input(node: Node) -> int | None:
    """The in-place input of most ops that can run in place: input 0."""
    return 0


@dataclass(frozen=True)
class OpSpec:
    """What onnx2rs knows about one ONNX op type."""

    op_type: str
    lower: Callable[[Lowering], Call]
    dtypes: frozenset[DType]
    check: Check | None = None
    inplace_input: InplaceInput | None = None
    limits: str = ""
    family: str = ""
    attrs: tuple[str, ...] = field(default=())
    dtype_input: int = 0
    view: ViewOffset | None = None
    # 2 x the multiply-adds a node does, for the ops whose work is a matrix product (Conv,
    # ConvTranspose, Gemm, MatMul): what `bench` divides by the time to report GFLOP/s.
    flops: Callable[[Node, Graph], int] | None = None

    @property
    def can_run_inplace(self) -> bool:
        """Whether some nodes of this op may write their output over an input."""
        return self.inplace_input is not None

    @property
    def needs_mutable_output(self) -> bool:
        """Whether the kernel mutates its output buffer in place (the original's second flag)."""
        return self.can_run_inplace


REGISTRY: dict[str, OpSpec] = {}


def register(
    *op_types: str,
    dtypes: frozenset[DType],
    check: Check | None = None,
    inplace: bool | InplaceInput = False,
    limits: str = "",
    attrs: tuple[str, ...] = (),
    dtype_input: int = 0,
    view: ViewOffset | None = None,
    domain: str = "",
    flops: Callable[[Node, Graph], int] | None = None,
) -> Callable[[Callable[[Lowering], Call]], Callable[[Lowering], Call]]:
    """Register `fn` as the lowering of each of `op_types` (a decorator).

    `dtypes` are the element types accepted for input `dtype_input`; `check`
    returns a reason when a node's attributes are beyond what the runtime does;
    `inplace` says that the output may overwrite input 0 (True) or which input a
    given node's output may overwrite (a function of the node);
    `view` gives the element offset at which the output can be read inside input 0
    (None when it cannot), so that the node needs no code (passes/views.py);
    `domain` is the op's domain, for ops outside the default ONNX one (`ir.IR_DOMAIN`);
    `flops` counts a node's matrix work (see `OpSpec.flops`).
    """

    def decorate(fn: Callable[[Lowering], Call]) -> Callable[[Lowering], Call]:
        family = fn.__module__.rsplit(".", 1)[-1]
        for op in op_types:
            key = _key(op, domain)
            if key in REGISTRY:
                raise RuntimeError(f"op {op} registered twice")
            inplace_input = first_input if inplace is True else inplace or None
            REGISTRY[key] = OpSpec(
                op, fn, dtypes, check, inplace_input, limits, family, attrs, dtype_input, view, flops
            )
        return fn

    return decorate


def _key(op_type: str, domain: str) -> str:
    """The registry key: the op type in the default ONNX domain, else `domain.op_type`."""
    return op_type if domain in ("", "ai.onnx") else f"{domain}.{op_type}"


def lookup(op_type: str, domain: str = "") -> OpSpec | None:
    """The spec for an op of `domain`, or None if unsupported."""
    return REGISTRY.get(_key(op_type, domain))


def onnx_ops() -> dict[str, OpSpec]:
    """The registered ops of the default ONNX domain (not the IR's own, such as `Phi`)."""
    return {op: spec for op, spec in REGISTRY.items() if "." not in op}


def _load_families() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name != "lowering":
            importlib.import_module(f"{__name__}.{info.name}")


_load_families()

__all__ = ["NONDETERMINISTIC", "REGISTRY", "Call", "Lowering", "OpSpec", "lookup", "onnx_ops", "register"]
