"""Running cargo and rustfmt: the only module that starts Rust tools."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .errors import ToolchainError


def _tool(name: str) -> str:
    path = shutil.which(name) or str(Path.home() / ".cargo" / "bin" / name)
    if not Path(path).exists():
        raise ToolchainError(f"{name} not found: install Rust with rustup (https://rustup.rs)")
    return path


def default_target_dir() -> Path:
    """Where crates built by onnx2rs itself share compiled dependencies."""
    env = os.environ.get("ONNX2RS_TARGET_DIR") or os.environ.get("CARGO_TARGET_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "onnx2rs" / "target"


def rustfmt(files: list[Path]) -> None:
    """Format generated Rust sources in place."""
    result = subprocess.run(
        [_tool("rustfmt"), "--edition", "2021", *map(str, files)], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise ToolchainError(f"rustfmt rejected the generated code:\n{result.stderr.strip()}")


def cargo(args: list[str], crate_dir: Path, target_dir: Path | None = None) -> str:
    """Run `cargo ARGS` in `crate_dir`; returns stdout, raises ToolchainError with stderr."""
    env = dict(os.environ)
    env["CARGO_TARGET_DIR"] = str(target_dir or default_target_dir())
    result = subprocess.run(
        [_tool("cargo"), *args], cwd=crate_dir, capture_output=True, text=True, env=env
    )
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-30:])
        raise ToolchainError(f"cargo {' '.join(args)} failed in {crate_dir}:\n{tail}")
    return result.stdout


def build_binary(crate_dir: Path, crate: str, target_dir: Path | None = None, profile: str = "release",
                 features: tuple[str, ...] = (), static: bool = False) -> Path:
    """Build the crate's CLI (`release` or `dev` profile, with Cargo `features`) and return the
    binary's path (the same path whatever the options: the last build wins). `static` links the
    C runtime in (`-C target-feature=+crt-static`, Linux): a binary that needs no shared library."""
    target = target_dir or default_target_dir()
    extra = ["--features", ",".join(features)] if features else []
    if static:
        # Given to the binary's own rustc only: proc-macros and build scripts stay dynamic, as they must.
        cargo(["rustc", "--quiet", "--profile", profile, "--bin", crate, *extra, "--",
               "-C", "target-feature=+crt-static"], crate_dir, target)
    else:
        cargo(["build", "--quiet", "--profile", profile, "--bin", crate, *extra], crate_dir, target)
    return target / ("debug" if profile == "dev" else profile) / crate
