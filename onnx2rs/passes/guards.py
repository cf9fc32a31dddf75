"""Which nodes run on which run-time conditions: the guards of flattened Ifs.

Analysis only: it changes nothing. A run-time `If` was flattened on load into both
branches' nodes joined by `Phi(cond, then, else)` (`branches.py`). A node must run
when some node that reads it runs; a Phi reads its `then` value only when `cond` holds
and its `else` value only when it does not. Walking the schedule backwards from the
graph outputs (which are always needed) gives each node the condition under which
its result is needed, as a formula over the Phi conditions in disjunctive normal form.

Guarantees on the result, for the fixed schedule `graph.nodes`:
- a node absent from the result runs unconditionally;
- a node's guard only names conditions computed before it (a condition computed later
  is dropped, which makes the node run more often, never less), and those conditions
  are still live there (the Phi that reads them comes later);
- whenever a node runs, every node whose output it reads has run.
A weight as a condition is decided here: it never appears in a guard.
"""

from __future__ import annotations

from ..ir import IR_DOMAIN, Graph, Node

# (condition value, the truth value it must have)
Literal = tuple[str, bool]
# A conjunction of literals; a guard is a disjunction of them. () is "always".
Conjunction = frozenset[Literal]
Guard = frozenset[Conjunction]

ALWAYS: Guard = frozenset({frozenset()})
NEVER: Guard = frozenset()


def is_phi(node: Node) -> bool:
    """True for the IR's `Phi` (a flattened If's join)."""
    return node.op_type == "Phi" and node.domain == IR_DOMAIN


def _simplify(terms: set[Conjunction]) -> Guard:
    """Merge `A & l | A & !l` into `A`, then drop any term that a smaller one absorbs."""
    changed = True
    while changed:
        changed = False
        for term in list(terms):
            for cond, truth in term:
                twin = (term - {(cond, truth)}) | {(cond, not truth)}
                if twin in terms:
                    terms -= {term, twin}
                    terms.add(term - {(cond, truth)})
                    changed = True
                    break
            if changed:
                break
    return frozenset(t for t in terms if not any(o < t for o in terms))


def _and(guard: Guard, literal: Literal) -> Guard:
    cond, truth = literal
    return _simplify({term | {literal} for term in guard if (cond, not truth) not in term})


def _or(a: Guard, b: Guard) -> Guard:
    return _simplify(set(a) | set(b))


def guards(graph: Graph) -> dict[str, Guard]:
    """The guard of every node that runs only under some condition, keyed by node name."""
    producer = {o: node for node in graph.nodes for o in node.outputs if o}
    need: dict[str, Guard] = {}
    for value in graph.outputs:
        if value in producer:
            need[producer[value].name] = ALWAYS
    for node in reversed(graph.nodes):
        mine = need.get(node.name, ALWAYS)  # read by nothing: run it, as before this analysis
        for i, value in enumerate(node.inputs):
            if value not in producer:
                continue
            passed = mine
            if is_phi(node) and i in (1, 2):
                passed = _decided(graph, mine, (node.inputs[0], i == 1))
            name = producer[value].name
            need[name] = _or(need.get(name, NEVER), passed)
    step = {value: i for i, node in enumerate(graph.nodes) for value in node.outputs if value}
    result = {}
    for i, node in enumerate(graph.nodes):
        guard = _simplify({frozenset(lit for lit in term if step.get(lit[0], -1) < i)
                           for term in need.get(node.name, ALWAYS)})
        if guard != ALWAYS:
            result[node.name] = guard
    return result


def _decided(graph: Graph, guard: Guard, literal: Literal) -> Guard:
    """`guard & literal`, with a weight's truth known now."""
    cond, truth = literal
    if graph.is_constant(cond):
        return guard if bool(graph.initializers[cond].reshape(-1)[0]) == truth else NEVER
    return _and(guard, literal)
