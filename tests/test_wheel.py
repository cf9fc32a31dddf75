"""The installed wheel finds its templates and runtime crate without the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from onnx2rs import toolchain

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.cargo
@pytest.mark.usefixtures("vendored_runtime")
def test_wheel_builds_a_crate_without_the_source_tree(tmp_path: Path) -> None:
    dist, site = tmp_path / "dist", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = dist.glob("onnx2rs-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import onnx2rs.resources as r; print(r.__file__); print(r.templates_dir()); "
         "print(r.runtime_dir())"],
        check=True, capture_output=True, text=True, env=env, cwd=tmp_path,
    ).stdout.split()
    assert all(p.startswith(str(site)) for p in where), where  # not the checkout
    out = tmp_path / "crate"
    subprocess.run([sys.executable, "-m", "onnx2rs", "build", str(ROOT / "tests" / "models" / "mlp.onnx"),
                    "-o", str(out)], check=True, capture_output=True, env=env, cwd=tmp_path)
    assert not (out / "runtime" / "target").exists()
    toolchain.cargo(["check", "--quiet"], out)
