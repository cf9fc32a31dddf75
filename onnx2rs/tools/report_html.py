"""The self-contained HTML report of `onnx2rs analyze --html`: memory over time and the graph.

Plain HTML with inline SVG: no scripts, no network, opens anywhere.
"""

from __future__ import annotations

import html

from .analyze import Analysis

_COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"]


def _color(op: str) -> str:
    """A colour per op type that is the same on every run (unlike `hash`)."""
    return _COLORS[sum(map(ord, op)) % len(_COLORS)]


def _gantt(a: Analysis) -> str:
    """Each tensor as a box: x from its defining step to its last use, y its offset.

    The arenas (one per element type) are stacked, each under its own label.
    """
    width, left, top, band_gap = 900, 90, 20, 14
    steps = max(len(a.steps), 1)
    sx = (width - left - 10) / (steps + 1)
    total = max(sum(a.arenas.values()), 1)
    sy = 300 / total
    base: dict[str, float] = {}
    y: float = top
    for dtype, size in sorted(a.arenas.items()):
        base[dtype] = y
        y += max(size * sy, 12) + band_gap
    height = y + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" role="img" '
             f'aria-label="memory over time">']
    for dtype, size in sorted(a.arenas.items()):
        h = max(size * sy, 12)
        parts.append(f'<rect x="{left}" y="{base[dtype]:.1f}" width="{width - left - 10}" height="{h:.1f}" '
                     f'fill="#fafafa" stroke="#ccc"/>')
        parts.append(f'<text x="4" y="{base[dtype] + 12:.1f}" font-size="12">{dtype} arena</text>')
        parts.append(f'<text x="4" y="{base[dtype] + 26:.1f}" font-size="11" fill="#666">'
                     f'{size / 1024:.1f} KiB</text>')
    for s in a.steps:
        x = left + s.step * sx
        w = max((s.last_use - s.step + 1) * sx, 2)
        y0 = base.get(s.arena, top) + s.offset * sy
        h = max(-(-s.bytes // 64) * 64 * sy, 1.5)
        color = "#999" if s.inplace else _color(s.op)
        title = html.escape(f"{s.output} ({s.op}, steps {s.step}-{s.last_use}, {s.bytes} B at {s.arena}+{s.offset})")
        parts.append(f'<rect class="tensor" x="{x:.1f}" y="{y0:.1f}" width="{w:.1f}" height="{h:.1f}" '
                     f'fill="{color}" fill-opacity="0.8" stroke="#333" stroke-width="0.5">'
                     f'<title>{title}</title></rect>')
    parts.append(f'<text x="{left}" y="{height - 4:.0f}" font-size="12">step → (0 to {steps - 1})</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _graph(a: Analysis) -> str:
    """The graph as an arc diagram: nodes in schedule order, an arc from each producer to its readers."""
    row, left = 22, 260
    height = row * len(a.steps) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="900" height="{height}" role="img" aria-label="graph">']
    for s in a.steps:
        y = 16 + s.step * row
        for src in s.inputs_from:
            y_src = 16 + src * row
            bend = left - 12 - min(8 * (s.step - src), left - 30)
            parts.append(f'<path class="edge" d="M {left - 8} {y_src - 4} C {bend} {y_src - 4}, {bend} {y - 4}, '
                         f'{left - 8} {y - 4}" fill="none" stroke="#888" stroke-width="1"/>')
    for s in a.steps:
        y = 16 + s.step * row
        badge = " (in place)" if s.inplace else ""
        parts.append(f'<circle cx="{left - 8}" cy="{y - 4}" r="4" fill="{_color(s.op)}"/>')
        parts.append(f'<text x="{left}" y="{y}" font-size="13"><tspan font-weight="bold">{html.escape(s.op)}</tspan> '
                     f'{html.escape(s.node)} → {s.shape}{badge}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def render_html(a: Analysis) -> str:
    """The whole report page."""
    saved = 100 * (1 - a.ratio)
    table = "\n".join(
        f"<tr><td>{s.step}</td><td>{html.escape(s.node)}</td><td>{html.escape(s.op)}</td><td>{s.shape}</td>"
        f"<td>{s.bytes}</td><td>{s.last_use}</td><td>{'yes' if s.inplace else 'no'}: {html.escape(s.reason)}</td>"
        f"<td>{s.arena}+{s.offset}</td></tr>"
        for s in a.steps
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>onnx2rs plan: {html.escape(a.model)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 13px; }} td, th {{ border: 1px solid #ddd; padding: 2px 6px; }}
.inplace {{ background: #eee; border-radius: 3px; padding: 0 4px; font-size: 11px; }}
.graph li {{ margin: 2px 0; }}
</style></head><body>
<h1>Memory plan of {html.escape(a.model)}</h1>
<p id="summary">{a.nodes} nodes; intermediates {a.naive_bytes} B naive, {a.arena_bytes} B planned arena
({a.ratio:.1%} of naive, {saved:.0f}% saved); weights {a.weights_bytes} B.</p>
<h2>Memory over time</h2>
<p>Each box is a tensor: from the step that defines it to its last use (x), at its offset (y) in the
arena of its element type. Grey boxes are written in place, over their input.</p>
{_gantt(a)}
<h2>Graph</h2>
<p>Nodes in execution order; each arc joins a producer to a reader.</p>
{_graph(a)}
<h2>Schedule</h2>
<table><tr><th>step</th><th>node</th><th>op</th><th>shape</th><th>bytes</th><th>last use</th><th>in place</th>
<th>offset</th></tr>
{table}
</table>
</body></html>
"""
