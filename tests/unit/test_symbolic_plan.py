"""The closed-form memory plan (passes/symbolic_plan.py): one layout, checked at many sizes."""

from __future__ import annotations

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from onnx2rs.passes.memory_plan import Buffer, MemoryPlan, _place
from onnx2rs.passes.symbolic_plan import closed_form

N, H, W = (sympy.Symbol(s, integer=True, positive=True) for s in "NHW")
# Sizes as exporters make them: constants, batch-scaled, plane-scaled, and pooled planes.
TERMS = [sympy.Integer(1), N, N * H * W, N * sympy.floor((H + 1) / 2) * sympy.floor((W + 1) / 2), H]

buffer = st.tuples(
    st.lists(st.integers(0, 64), min_size=len(TERMS), max_size=len(TERMS)),  # coefficients (×4 bytes)
    st.integers(0, 20), st.integers(0, 6),  # birth, lifetime
    st.sampled_from(["f32", "i64"]),
)
sizes = st.fixed_dictionaries({N: st.integers(1, 9), H: st.integers(1, 300), W: st.integers(1, 300)})


def _plan(specs: list, probe: dict) -> tuple[MemoryPlan, list[sympy.Expr]]:
    exprs = [4 * sum(c * t for c, t in zip(coeffs, TERMS, strict=True)) for coeffs, *_ in specs]
    buffers = [Buffer([f"v{i}"], dtype, int(e.subs(probe)), start, start + span)
               for i, ((_, start, span, dtype), e) in enumerate(zip(specs, exprs, strict=True))]
    arenas = {d: _place([b for b in buffers if b.dtype == d]) for d in sorted({b.dtype for b in buffers})}
    return MemoryPlan(buffers, arenas), exprs


@settings(max_examples=100, deadline=None)
@given(st.lists(buffer, min_size=1, max_size=14), sizes, st.lists(sizes, min_size=1, max_size=4))
def test_live_buffers_never_overlap_at_any_size(specs: list, probe: dict, others: list) -> None:
    plan, exprs = _plan(specs, probe)
    sym = closed_form(plan, exprs)
    at_probe, arenas_at_probe = sym.layout(probe)
    # At the probe size the closed form is no worse than the probe plan.
    assert all(c <= b.offset for c, b in zip(at_probe, plan.buffers, strict=True))
    assert all(arenas_at_probe[d] <= plan.arenas[d] for d in plan.arenas)
    bufs = plan.buffers
    for at in [probe, *others]:
        offsets, arenas = sym.layout(at)
        lengths = [int(s.subs(at)) for s in sym.sizes]
        for i in range(len(bufs)):
            assert lengths[i] >= int(exprs[i].subs(at)) and lengths[i] % 64 == 0
            assert offsets[i] + lengths[i] <= arenas[bufs[i].dtype]
            for j in range(i):
                if bufs[i].dtype == bufs[j].dtype and bufs[i].start <= bufs[j].end and bufs[j].start <= bufs[i].end:
                    assert offsets[i] + lengths[i] <= offsets[j] or offsets[j] + lengths[j] <= offsets[i], (i, j, at)
