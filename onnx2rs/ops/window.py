"""Window attributes shared by Conv and pooling: kernel, strides, dilations and pads.

`auto_pad` is resolved here, at compile time, into explicit pads, so the runtime
only ever sees explicit ones (spec: https://onnx.ai/onnx/operators/onnx__Conv.html).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph, Node


@dataclass(frozen=True)
class Window:
    """Resolved window attributes for all spatial axes."""

    kernel: list[int]
    strides: list[int]
    dilations: list[int]
    pads: list[int]

    def output(self, spatial: list[int]) -> list[int]:
        """The output length along each spatial axis (floor division, no ceil mode)."""
        n = len(self.kernel)
        return [(s + self.pads[i] + self.pads[n + i] - self.dilations[i] * (self.kernel[i] - 1) - 1)
                // self.strides[i] + 1 for i, s in enumerate(spatial)]


def resolve(node: Node, spatial: list[int], kernel: list[int]) -> Window:
    """Explicit window attributes for `node` over input spatial dims `spatial`."""
    n = len(kernel)
    strides = list(node.attrs.get("strides", [1] * n))
    dilations = list(node.attrs.get("dilations", [1] * n))
    pads = list(node.attrs.get("pads", [0] * (2 * n)))
    auto_pad = node.attrs.get("auto_pad", "NOTSET")
    if auto_pad == "VALID":
        pads = [0] * (2 * n)
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * n)
        for i in range(n):
            out = -(-spatial[i] // strides[i])
            span = dilations[i] * (kernel[i] - 1) + 1
            total = max((out - 1) * strides[i] + span - spatial[i], 0)
            small, large = total // 2, total - total // 2
            pads[i], pads[n + i] = (small, large) if auto_pad == "SAME_UPPER" else (large, small)
    return Window(list(kernel), strides, dilations, pads)


def check_spatial_rank(node: Node, graph: Graph, max_spatial: int = 2) -> str | None:
    """Reason to refuse a window op whose input is not 1-D to `max_spatial`-D spatial."""
    x = node.input(0)
    rank = len(graph.values[x].shape) if x in graph.values else 0
    if not 3 <= rank <= max_spatial + 2:
        return f"{rank - 2}-D spatial input"
    return None
