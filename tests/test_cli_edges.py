"""The edges a user meets (issue P9): every mistake in the flags, the paths or the environment is
one `error:` line with exit code 2 and nothing left behind; help, --version, -q; concurrent and
interrupted builds; user text never read as markup."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnx2rs import __version__

ROOT = Path(__file__).resolve().parent.parent
MLP = ROOT / "tests" / "models" / "mlp.onnx"
PROGRESS_LINE = "s] "  # `[1.2 s] writing the crate`: a step's plain progress line in a pipe


def onnx2rs(*args: str, cwd: Path | None = None, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "onnx2rs", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600, **kwargs)


def error_line(r: subprocess.CompletedProcess[str]) -> str:
    """The failure's one line: exit code 2, no traceback, exactly one `error:` line on stderr."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip() and PROGRESS_LINE not in line[:12]]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "internal error" not in lines[0]
    return lines[0]


def open_dims_model(path: Path) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "C"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "C"])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), path)
    return path


def big_weights_model(path: Path, n: int = 1024) -> Path:
    """A model with 4 MiB of weights, so that writing its crate takes a moment."""
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((n, n)).astype(np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), path)
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize(("shape", "says"), [
    ("x=1,-3", "no dim may be negative"),
    ("x=1,99999999999", "more than this machine's memory"),
    ("x=99999,99999", "more than this machine's memory"),
    ("x=1,a", "expected NAME=D0,D1,..."),
])
def test_input_shape_values_are_checked_before_any_work(shape: str, says: str, tmp_path: Path) -> None:
    model = open_dims_model(tmp_path / "m.onnx")
    line = error_line(onnx2rs("build", str(model), "--input-shape", shape, "-o", str(tmp_path / "out")))
    assert says in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_a_plan_larger_than_memory_says_how_much(tmp_path: Path) -> None:
    # Each input fits alone; the input, its output and the arena together do not.
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    columns = int(total * 0.6 / 4 / 1000)
    model = open_dims_model(tmp_path / "m.onnx")
    line = error_line(onnx2rs("build", str(model), "--input-shape", f"x=1000,{columns}", "-o", str(tmp_path / "o")))
    assert "the compiled model's buffers" in line and "GiB" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


@pytest.mark.parametrize("location", ["weights.bin", "."])
def test_external_data_that_is_missing_or_a_folder(location: str, tmp_path: Path) -> None:
    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value=location)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    line = error_line(onnx2rs("build", str(path), "-o", str(tmp_path / "out")))
    assert "'w'" in line and repr(location) in line
    assert ("is missing" if location != "." else "is not a file") in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_out_naming_a_file_symlink_or_fifo_is_refused_even_with_force(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("keep me")
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "keep.txt").write_text("keep me")
    (tmp_path / "a_link").symlink_to(tmp_path / "real")
    os.mkfifo(tmp_path / "a_fifo")
    for name, kind in (("a_file", "a file"), ("a_link", "a symbolic link"), ("a_fifo", "a FIFO")):
        line = error_line(onnx2rs("build", str(MLP), "-o", str(tmp_path / name), "--force"))
        assert f"it is {kind}, not a folder" in line
    assert (tmp_path / "a_file").read_text() == "keep me"
    assert (tmp_path / "real" / "keep.txt").read_text() == "keep me"
    assert os.path.islink(tmp_path / "a_link")
    # convert writes a file: a FIFO there would block the write forever.
    assert "it is a FIFO, not a file" in error_line(onnx2rs("convert", str(MLP), "-o", str(tmp_path / "a_fifo"),
                                                            "--force"))
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("command", [
    ["convert", str(MLP), "-o", "{missing}/m.onnx"],
    ["analyze", str(MLP), "--html", "{missing}/r.html"],
    ["bench", str(MLP), "--json", "{missing}/b.json"],
])
def test_a_file_output_into_a_missing_folder_fails_before_any_work(command: list[str], tmp_path: Path) -> None:
    args = [a.replace("{missing}", str(tmp_path / "nowhere")) for a in command]
    start = time.monotonic()
    line = error_line(onnx2rs(*args))
    assert "does not exist" in line and str(tmp_path / "nowhere") in line
    assert time.monotonic() - start < 60, "bench must refuse before timing anything"
    assert list(tmp_path.iterdir()) == []


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in: a read-only one for a normal user; as root
    (which ignores modes), /sys, where even root may not create files."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    else:
        folder = Path("/sys")
    with pytest.raises(OSError):
        (folder / "probe").write_text("x")
    return folder


def test_an_unwritable_output_folder(tmp_path: Path) -> None:
    folder = unwritable_folder(tmp_path)
    line = error_line(onnx2rs("build", str(MLP), "-o", str(folder / "onnx2rs-out")))
    assert str(folder) in line
    line = error_line(onnx2rs("convert", str(MLP), "-o", str(folder / "m.onnx")))
    assert str(folder) in line


def _limit_file_size() -> None:
    """In the child: files may not grow past 1 MiB, and writing past it fails (EFBIG) instead
    of killing the process: the disk is full, as far as onnx2rs can tell."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_a_full_disk_while_writing_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    model = big_weights_model(tmp_path / "big.onnx")
    r = onnx2rs("build", str(model), "-o", str(tmp_path / "out"), preexec_fn=_limit_file_size)
    line = error_line(r)
    assert "writing the crate" in line and "File too large" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.onnx"]


def test_concurrent_builds_into_one_new_folder_exactly_one_writes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    procs = [subprocess.Popen([sys.executable, "-m", "onnx2rs", "build", str(MLP), "-o", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    wrote = [r for r in results if r[0] == 0]
    refused = [r for r in results if r[0] != 0]
    assert len(wrote) == 1 and "wrote crate" in wrote[0][1], results
    for code, _stdout, stderr in refused:
        # Refused at the start (the folder was there) or at the end (it appeared meanwhile).
        assert code == 2 and "Traceback" not in stderr, stderr
        assert "appeared while this build ran" in stderr or "already exists: pass --force" in stderr, stderr
    assert (out / "Cargo.toml").is_file()
    assert leftovers(tmp_path) == []


def test_concurrent_forced_builds_end_with_one_whole_crate(tmp_path: Path) -> None:
    out = tmp_path / "out"
    procs = [subprocess.Popen([sys.executable, "-m", "onnx2rs", "build", str(MLP), "-o", str(out), "--force"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    assert [r[0] for r in results] == [0, 0, 0], results
    assert (out / "Cargo.toml").is_file() and (out / "src" / "lib.rs").is_file()
    assert leftovers(tmp_path) == []


def _signal_while_staged(signum: int, folder: Path) -> int:
    """Build a large model into `folder`, send `signum` as soon as its staging folder appears,
    and return the exit code. Under load the build may finish before the signal lands."""
    model = big_weights_model(folder / "big.onnx", n=2048)
    # As in a terminal: a shell runs background jobs (CI started with `&`) with SIGINT ignored,
    # which the child would inherit, and Python then never turns Ctrl-C into KeyboardInterrupt.
    cli = "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); " \
          "from onnx2rs.cli import main; sys.argv[0] = 'onnx2rs'; main()"
    proc = subprocess.Popen([sys.executable, "-c", cli, "build", str(model), "-o", str(folder / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The step before the crate is written; the signal lands while it is staged.
    for line in proc.stderr:
        if "computing reference outputs" in line:
            break
    else:
        pytest.fail("the build never reported its reference step")
    deadline = time.monotonic() + 30
    while not leftovers(folder) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert leftovers(folder), "the staging folder never appeared"
    proc.send_signal(signum)
    return proc.wait(timeout=120)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_while_writing_removes_the_staging_folder(signum: int, tmp_path: Path) -> None:
    interrupted = 0
    for attempt in range(3):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        code = _signal_while_staged(signum, folder)
        if code == 0:
            # The signal came after the build ended (a loaded machine): the crate is whole.
            assert (folder / "out" / "Cargo.toml").is_file() and leftovers(folder) == []
            continue
        assert sorted(p.name for p in folder.iterdir()) == ["big.onnx"]
        interrupted += 1
        break
    assert interrupted == 1, "no attempt's signal landed while the crate was staged"


def test_user_text_is_never_read_as_markup(tmp_path: Path) -> None:
    weird = tmp_path / "we[/x]ird"
    weird.mkdir(parents=True)
    model = weird / "[red]x.onnx"
    model.write_bytes(MLP.read_bytes())
    r = onnx2rs("build", str(model), "-o", str(weird / "o[/b]"))
    assert r.returncode == 0, r.stderr
    assert f"to {weird / 'o[/b]'}" in r.stdout
    line = error_line(onnx2rs("build", str(weird / "[red]gone.onnx"), "-o", str(weird / "o2")))
    assert f"{weird / '[red]gone.onnx'}: no such file" in line


def test_a_bad_flag_is_one_line_naming_the_help(tmp_path: Path) -> None:
    line = error_line(onnx2rs("build", str(MLP), "--bogus"))
    assert "--bogus" in line and "onnx2rs build --help" in line
    assert "Missing argument 'MODEL'" in error_line(onnx2rs("build"))


def test_help_version_and_quiet(tmp_path: Path) -> None:
    r = onnx2rs("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"onnx2rs {__version__}"
    for flag in ("-h", "--help"):
        r = onnx2rs("build", flag)
        assert r.returncode == 0, r.stderr
        assert "Usage: onnx2rs build [OPTIONS] MODEL" in r.stdout
        assert "<bool>" not in r.stdout and "list[str]" not in r.stdout and "{" not in r.stdout
        assert "--input-shape NAME=D0,D1,..." in r.stdout and "-o, --out DIR" in r.stdout
        words = " ".join(r.stdout.split())
        assert "maturin" in words and "accepts any batch" in words and "Examples:" in words
    r = onnx2rs("build", str(MLP), "-o", str(tmp_path / "loud"))
    assert r.returncode == 0 and "] writing the crate" in r.stderr
    r = onnx2rs("build", str(MLP), "-o", str(tmp_path / "quiet"), "-q")
    assert r.returncode == 0 and r.stderr == "" and "wrote crate mlp" in r.stdout


def test_a_keras_build_prints_no_framework_logs(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, activation="relu")])
    model.save(tmp_path / "tiny.keras")
    r = onnx2rs("build", str(tmp_path / "tiny.keras"), "-o", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    # Every stderr line is one of our progress lines: no TensorFlow, oneDNN or absl log.
    lines = r.stderr.splitlines()
    assert any("loading and simplifying" in line for line in lines), r.stderr
    assert all(line.startswith("[") and PROGRESS_LINE in line[:12] for line in lines), r.stderr


def test_a_terminated_bench_leaves_no_temporary_folders(tmp_path: Path) -> None:
    work = tmp_path / "tmp"
    work.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "onnx2rs", "bench", str(MLP)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(work)})
    for line in proc.stderr:
        if "] writing the crate" in line:
            break
    else:
        pytest.fail("bench never reported writing its crate")
    assert [p.name for p in work.iterdir() if p.name.startswith("onnx2rs-bench-")], "no temporary folder to clean"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    # (Caches that outlive a run, such as Jinja's compiled templates, may stay.)
    assert [p.name for p in work.iterdir() if p.name.startswith("onnx2rs-")] == []


def test_messages_keep_brackets_as_written(capsys) -> None:
    from onnx2rs import ui

    message = "install it: pip install 'onnx2rs[tf]' (see [red]x[/red].onnx and [/x])"
    ui.error(message)
    assert capsys.readouterr().err.strip() == f"error: {message}"


def test_a_refused_build_makes_none_of_its_output_folders(tmp_path: Path) -> None:
    model = open_dims_model(tmp_path / "m.onnx")
    error_line(onnx2rs("build", str(model), "-o", str(tmp_path / "new" / "sub" / "out")))  # dims left open
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
