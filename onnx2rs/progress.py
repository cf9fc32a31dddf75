"""Progress of the long steps: the compiler and the tools name each step they take; whoever
runs them (the CLI) decides how to show it.

With no listener set, steps cost a clock read and say nothing, so library users and tests
see no output. `step` is a context manager; `update` reports a count inside a step (cargo's
crates compiled out of the total).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """One report: a step began (`elapsed` None), advanced (`done` of `total`), or ended."""

    label: str
    depth: int = 0  # 0 for a step no other step contains
    elapsed: float | None = None
    done: int | None = None
    total: int | None = None
    failed: bool = False


Listener = Callable[[Event], None]
_listener: Listener | None = None
_current: list[str] = []


def set_listener(listener: Listener | None) -> None:
    """Send every later Event to `listener` (None: to nobody)."""
    global _listener
    _listener = listener


def listening() -> bool:
    """Whether anyone is shown progress (worth the cost of counting it)."""
    return _listener is not None


@contextlib.contextmanager
def step(label: str) -> Iterator[None]:
    """Report `label` as begun, then as ended (or failed) with its elapsed time."""
    start = time.perf_counter()
    depth = len(_current)
    _current.append(label)
    if _listener:
        _listener(Event(label, depth))
    failed = True
    try:
        yield
        failed = False
    finally:
        _current.pop()
        if _listener:
            _listener(Event(label, depth, elapsed=time.perf_counter() - start, failed=failed))


def update(done: int, total: int | None) -> None:
    """Report progress of the innermost step: `done` of `total` units (None: unknown)."""
    if _listener and _current:
        _listener(Event(_current[-1], len(_current) - 1, done=done, total=total))
