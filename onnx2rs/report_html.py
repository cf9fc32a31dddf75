"""The self-contained HTML report of `onnx2rs analyze --html`: memory over time and the graph.

Plain HTML with inline SVG: no scripts, no network, opens anywhere.
"""

from __future__ import annotations

import html

from .analyze import Analysis

_COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"]


def _gantt(a: Analysis) -> str:
    """Each tensor as a box: x from its defining step to its last use, y its arena offset."""
    width, height, left, top = 900, 360, 70, 20
    steps = max(len(a.steps), 1)
    arena = max(a.arena_bytes, 1)
    sx = (width - left - 10) / (steps + 1)
    sy = (height - top - 30) / arena
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="memory over time">',
             f'<rect x="{left}" y="{top}" width="{width - left - 10}" height="{height - top - 30}" '
             f'fill="#fafafa" stroke="#ccc"/>']
    for s in a.steps:
        x = left + s.step * sx
        w = max((s.last_use - s.step + 1) * sx, 2)
        y = top + s.offset * sy
        h = max(-(-s.bytes // 64) * 64 * sy, 1.5)
        color = _COLORS[hash(s.op) % len(_COLORS)] if not s.inplace else "#999"
        title = html.escape(f"{s.output} ({s.op}, step {s.step}-{s.last_use}, {s.bytes} B at {s.offset})")
        parts.append(f'<rect class="tensor" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                     f'fill="{color}" fill-opacity="0.75" stroke="#333" stroke-width="0.5"><title>{title}</title></rect>')
    parts.append(f'<text x="{left}" y="{height - 8}" font-size="12">step →</text>')
    parts.append(f'<text x="4" y="{top + 12}" font-size="12">offset 0</text>')
    parts.append(f'<text x="4" y="{height - 32}" font-size="12">{arena / 1024:.1f} KiB</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _graph(a: Analysis) -> str:
    """The schedule as a column of nodes, each linked to the next."""
    rows = []
    for s in a.steps:
        badge = ' <span class="inplace">in place</span>' if s.inplace else ""
        rows.append(f"<li><b>{html.escape(s.op)}</b> {html.escape(s.node)} → "
                    f"<code>{html.escape(s.output)}</code> {s.shape}{badge}</li>")
    return "<ol class=\"graph\">" + "\n".join(rows) + "</ol>"


def render_html(a: Analysis) -> str:
    """The whole report page."""
    saved = 100 * (1 - a.ratio)
    table = "\n".join(
        f"<tr><td>{s.step}</td><td>{html.escape(s.node)}</td><td>{html.escape(s.op)}</td><td>{s.shape}</td>"
        f"<td>{s.bytes}</td><td>{s.last_use}</td><td>{'yes' if s.inplace else 'no'}: {html.escape(s.reason)}</td>"
        f"<td>{s.offset}</td></tr>"
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
<p>Each box is a tensor: from the step that defines it to its last use (x), at its arena offset (y).
Grey boxes are written in place.</p>
{_gantt(a)}
<h2>Graph</h2>
{_graph(a)}
<h2>Schedule</h2>
<table><tr><th>step</th><th>node</th><th>op</th><th>shape</th><th>bytes</th><th>last use</th><th>in place</th>
<th>offset</th></tr>
{table}
</table>
</body></html>
"""
