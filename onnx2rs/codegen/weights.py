"""Writing the weights file: every initializer the code reads, in safetensors format."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import save_file

from ..dtypes import to_storage


def write_weights(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """Write `tensors` (keyed by Rust identifier) to `path` as safetensors.

    The keys are sanitised identifiers, so no string from the model reaches the file header.
    """
    # NOTE: np.ascontiguousarray would turn 0-d scalars into shape [1].
    try:
        save_file({k: np.array(to_storage(v), order="C") for k, v in sorted(tensors.items())}, str(path))
    except SafetensorError as e:
        # A full disk reaches us as "I/O error: ... (os error 28)": give it back its errno, so
        # that it is reported as the environment's problem, naming the file.
        found = re.search(r"os error (\d+)", str(e))
        if found is None:
            raise
        code = int(found.group(1))
        raise OSError(code, os.strerror(code), str(path)) from None
