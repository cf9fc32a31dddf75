"""`Step`: one node's code in the generated `forward`, as `templates/crate/model.rs.j2` writes it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Step:
    """What model.rs.j2 needs to write one node: its statement and how it borrows the arena.

    A node with one output cuts `out` (the `out` range of arena `arena`) and any input of the
    same element type (`split_names` over `split_ranges`) out of that arena; a node with several
    outputs writes its `borrows` lines instead; loop boundaries write `lines` as they are.
    """

    op_type: str
    name: str
    # The call (empty for a node that computes nothing), and whether it returns `Result`.
    expr: str = ""
    fallible: bool = False
    # The output is read where its input lies: no slice is cut.
    view: bool = False
    arena: str = ""
    out: str = ""
    split_names: list[str] = field(default_factory=list)
    split_ranges: list[str] = field(default_factory=list)
    borrows: list[str] = field(default_factory=list)
    # Per arena slice bound here: its binding, the ONNX value it holds, the value it overwrites.
    holds: list[tuple[str, str, str]] = field(default_factory=list)
    # The caller's inputs read here for the last time (freed if the caller gave them away).
    frees: list[str] = field(default_factory=list)
    # Lines written as they are (a loop's begin or end), and those after `frees`.
    lines: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    # The run-time condition under which the node runs ("" for always), and whether this
    # step opens or closes the `if` block that consecutive steps under one condition share.
    guard: str = ""
    opens: bool = False
    closes: bool = False
