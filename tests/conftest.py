"""Shared fixtures: one cargo target dir for every generated crate of the session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Share compiled dependencies between all crates that the tests generate."""
    os.environ.setdefault("CARGO_TARGET_DIR", str(ROOT / "target" / "cargo"))


@pytest.fixture(scope="session")
def target_dir() -> Path:
    """The shared cargo target dir."""
    return Path(os.environ["CARGO_TARGET_DIR"])
