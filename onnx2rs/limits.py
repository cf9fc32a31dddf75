"""What this machine can hold: sizes refused before anything that large is allocated.

A typo in `--input-shape` (`x=1,99999999999`) must be one clear error naming the size, not a
MemoryError from numpy halfway through the build.
"""

from __future__ import annotations

import math
import os

from .errors import ModelError


def physical_memory() -> int:
    """This machine's memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def human(nbytes: int) -> str:
    """`nbytes` as a short size: 512 B, 3.1 MiB, 745.1 GiB."""
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def tensor_bytes(dims: list[int], itemsize: int) -> int:
    """The size of a tensor, in exact integers (no int64 overflow for absurd dims)."""
    return math.prod(dims) * itemsize


def check_fits(what: str, nbytes: int) -> None:
    """Raise ModelError if `nbytes` exceeds this machine's memory."""
    have = physical_memory()
    if nbytes > have:
        raise ModelError(f"{what} would take {human(nbytes)}, more than this machine's memory ({human(have)}); "
                         "check the sizes")
