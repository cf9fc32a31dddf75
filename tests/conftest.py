"""Shared fixtures: one cargo target dir for every generated crate of the session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Share compiled dependencies between all crates that the tests generate, the runtime
    included: crates link to this checkout's runtime instead of vendoring a copy that Cargo
    would compile again for each of them (tests that check the vendored layout use
    the `vendored_runtime` fixture)."""
    os.environ.setdefault("CARGO_TARGET_DIR", str(ROOT / "target" / "cargo"))
    os.environ.setdefault("ONNX2RS_RUNTIME_PATH", str(ROOT / "runtime-crate"))
    # Release builds in the suite skip the shipped profile's fat LTO and single codegen
    # unit: those re-optimise every crate's whole program, runtime included (minutes over
    # the suite), and nothing the tests check depends on them.
    os.environ.setdefault("CARGO_PROFILE_RELEASE_LTO", "false")
    os.environ.setdefault("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
    # Fresh builds gain nothing from incremental caches; line tables keep backtraces (Makefile).
    os.environ.setdefault("CARGO_INCREMENTAL", "0")
    os.environ.setdefault("CARGO_PROFILE_DEV_DEBUG", "line-tables-only")


@pytest.fixture
def vendored_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generate crates as users get them: with their own copy of the runtime."""
    monkeypatch.delenv("ONNX2RS_RUNTIME_PATH", raising=False)


@pytest.fixture(scope="session")
def target_dir() -> Path:
    """The shared cargo target dir."""
    return Path(os.environ["CARGO_TARGET_DIR"])
