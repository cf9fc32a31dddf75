"""Whole models made by tf2onnx from Keras, compiled to crates and checked end to end.

For each model: the crate builds, its own tests (against ONNX Runtime outputs
recorded at build time) pass, it is clippy-clean and rustfmt-clean, and its CLI
agrees with ONNX Runtime on fresh random inputs (atol = rtol = 1e-4).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from onnx2rs import CompileOptions, compile_model, toolchain
from onnx2rs.tools.verify import verify

from ..helpers import assert_crate_tests_pass

ROOT = Path(__file__).resolve().parents[2]
MODELS = [
    ROOT / "examples" / "charcnn.onnx",
    ROOT / "tests" / "models" / "mlp.onnx",
    ROOT / "tests" / "models" / "conv2d_image.onnx",
]
pytestmark = pytest.mark.cargo


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.stem)
def test_generated_crate_tests_lint_and_format(model: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # The first crate is as users get it, with its own copy of the runtime (lint included);
    # the others share this checkout's, which Cargo then compiles once for the suite.
    vendored = model == MODELS[0]
    if vendored:
        request.getfixturevalue("vendored_runtime")
    result = compile_model(model, tmp_path / model.stem)
    out = result.out_dir
    for required in ["Cargo.toml", "src/lib.rs", "src/model.rs", "src/main.rs", "weights.safetensors",
                     "tests/reference.rs", "tests/allocations.rs", "benches/latency.rs"]:
        assert (out / required).is_file(), required
    assert (out / "runtime" / "Cargo.toml").is_file() == vendored
    assert "#![forbid(unsafe_code)]" in (out / "src" / "lib.rs").read_text()
    # ONNX Runtime's outputs recorded at build time, and zero heap allocations per run.
    assert_crate_tests_pass(out)
    toolchain.cargo(["clippy", "--all-targets", "--quiet", "--", "-D", "warnings"], out)
    toolchain.cargo(["fmt", "--check"], out)


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.stem)
def test_cli_matches_onnxruntime_on_fresh_inputs(model: Path) -> None:
    result = verify(model, CompileOptions(), seed=7, atol=1e-4)
    # One comparison per graph output, each within tolerance (an empty list would prove nothing).
    assert [m.name for m in result.mismatches] == result.names and result.names
    for m in result.mismatches:
        assert m.ok, f"{m.name}: max abs {m.max_abs}, max rel {m.max_rel}"


@pytest.mark.usefixtures("vendored_runtime")
def test_crate_is_movable(tmp_path: Path) -> None:
    """The output folder builds after being moved: nothing points back into onnx2rs."""
    result = compile_model(MODELS[1], tmp_path / "first")
    moved = tmp_path / "elsewhere" / "mlp"
    moved.parent.mkdir()
    result.out_dir.rename(moved)
    for path in moved.rglob("*.toml"):
        assert str(Path(toolchain.__file__).parents[1]) not in path.read_text()
    toolchain.cargo(["build", "--release", "--quiet"], moved)


def test_generated_cli_help_options_and_error_kinds(tmp_path: Path) -> None:
    """The crate's CLI: -h/--help lists each input's name, dtype and shape (exit 0); options
    stand anywhere; each failure is one `error:` line of the right kind, exit 2."""
    import subprocess

    import numpy as np

    result = compile_model(MODELS[1], tmp_path / "crate")
    binary = toolchain.build_binary(result.out_dir, result.crate)
    (name,) = result.graph.inputs
    value = result.graph.value(name)
    run = lambda *args: subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True,  # noqa: E731
                                       cwd=tmp_path)
    for flag in ("-h", "--help"):
        shown = run(flag)
        assert shown.returncode == 0, shown.stderr
        assert f"{name}  {value.dtype.numpy.name} [{', '.join(map(str, value.shape))}]" in shown.stdout
        assert shown.stdout.startswith(f"usage: {result.crate} ")
    good = tmp_path / "x.npy"
    np.save(good, np.zeros(value.shape, value.dtype.numpy))
    done = run(good, "--peak-rss", tmp_path / "y.npy")  # the option after the files
    assert done.returncode == 0 and done.stderr.startswith("peak RSS: "), done.stderr
    assert (tmp_path / "y.npy").is_file() and not (tmp_path / "--peak-rss").exists()

    def error(*args: object) -> str:
        failed = run(*args)
        lines = failed.stderr.splitlines()
        assert failed.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), failed.stderr
        return lines[0]

    assert "unknown option \"--bogus\"" in error("--bogus", good, tmp_path / "y.npy")
    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros(value.shape, np.float64))
    assert error(wide, tmp_path / "y.npy").startswith(f"error: bad input: input {name!r}".replace("'", '"'))
    assert "is a folder" in error(tmp_path, tmp_path / "y.npy")
    (tmp_path / "junk.npy").write_text("not numpy")
    assert error(tmp_path / "junk.npy", tmp_path / "y.npy").startswith("error: malformed file: ")
    assert "expected 1 input and 1 output file(s), got 1" in error(good)
