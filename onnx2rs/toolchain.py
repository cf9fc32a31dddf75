"""Running cargo and rustfmt: the only module that starts Rust tools."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from . import progress
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


def output_dir(args: list[str]) -> str:
    """The folder of the target dir that a cargo command ARGS builds into: `debug` for the dev
    and test profiles (and checks), `release` for release and bench, else the profile's name."""
    if "--release" in args:
        return "release"
    profile = args[args.index("--profile") + 1] if "--profile" in args else "bench" if args[:1] == ["bench"] else "dev"
    return {"dev": "debug", "test": "debug", "bench": "release"}.get(profile, profile)


@contextlib.contextmanager
def _target_lock(target: Path, output: str) -> Iterator[None]:
    """Hold an exclusive lock on the folder `output` (`debug`, `release`, ...) of the shared
    target dir `target` (Unix; elsewhere nothing is held).

    Cargo locks that folder itself, but only while it builds: a crate's binary lands at one path
    per name (`target/release/NAME`), so two builds of same-named crates at once (two
    `onnx2rs verify` runs, the test suite's workers) could each run the other's binary. Every
    cargo call from here holds this lock, and `build_binary` holds it until the binary is
    copied where no later build reaches it. Builds into different folders share nothing Cargo
    writes, so a dev build and a release build run side by side."""
    try:
        import fcntl
    except ImportError:  # not Unix
        yield
        return
    target.mkdir(parents=True, exist_ok=True)
    with open(target / f".onnx2rs-{output}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _claim(crate_dir: Path, target: Path, output: str) -> None:
    """Make Cargo rebuild `crate_dir` if another folder's crate was the last one built in
    `target` under its name. Cargo keys a crate's artifacts and fingerprint by its name and
    version, not its folder, and takes a crate whose sources are older than the last build
    as fresh: a crate generated while a same-named one was building would get that one's
    binary. So its sources are touched. Called with the target lock held."""
    manifest = crate_dir / "Cargo.toml"
    if not manifest.is_file():
        return
    # The generated manifest's first `name =` is the package's (tomllib needs Python 3.11).
    found = re.search(r'^name\s*=\s*"([^"]*)"', manifest.read_text(), re.M)
    name = found.group(1) if found else ""
    marker = target / ".onnx2rs-crates" / output / name
    here = str(crate_dir.resolve())
    if marker.is_file() and marker.read_text() == here:
        return
    for source in crate_dir.rglob("*.rs"):
        if "target" not in source.relative_to(crate_dir).parts:
            source.touch()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(here)


def cargo(args: list[str], crate_dir: Path, target_dir: Path | None = None) -> str:
    """Run `cargo ARGS` in `crate_dir`; returns stdout, raises ToolchainError with stderr."""
    target, output = target_dir or default_target_dir(), output_dir(args)
    with _target_lock(target, output):
        _claim(crate_dir, target, output)
        return _cargo(args, crate_dir, target)


def _tail(stderr: str) -> str:
    """The last 30 lines of a tool's stderr: where its error is."""
    return "\n".join(stderr.strip().splitlines()[-30:])


def _cargo(args: list[str], crate_dir: Path, target: Path) -> str:
    env = dict(os.environ)
    env["CARGO_TARGET_DIR"] = str(target)
    result = subprocess.run(
        [_tool("cargo"), *args], cwd=crate_dir, capture_output=True, text=True, env=env
    )
    if result.returncode != 0:
        raise ToolchainError(f"cargo {' '.join(args)} failed in {crate_dir}:\n{_tail(result.stderr)}")
    return result.stdout


def compile_crate(args: list[str], crate_dir: Path, target_dir: Path | None = None) -> list[dict]:
    """Run a compiling cargo command (`build`, `rustc`, `bench --no-run`) with ARGS in
    `crate_dir` and return cargo's JSON messages. While it runs, the crates compiled out of the
    total go to progress.py (one artifact per crate; the total from `cargo tree`)."""
    target, output = target_dir or default_target_dir(), output_dir(args)
    with _target_lock(target, output):
        _claim(crate_dir, target, output)
        return _compile(args, crate_dir, target)


def _compile(args: list[str], crate_dir: Path, target: Path) -> list[dict]:
    total = 0
    if progress.listening():
        features = args[args.index("--features") + 1] if "--features" in args else ""
        tree = _cargo(["tree", "--quiet", "-e", "normal,build", "--prefix", "none", "--format", "{p}",
                       *(["--features", features] if features else [])], crate_dir, target)
        # One artifact per package, and one more for the crate's binary beside its library.
        total = len({line.removesuffix(" (*)") for line in tree.splitlines() if line.strip()}) + 1
    env = dict(os.environ, CARGO_TARGET_DIR=str(target))
    cut = args.index("--") if "--" in args else len(args)
    command = [_tool("cargo"), *args[:cut], "--message-format=json-render-diagnostics", *args[cut:]]
    messages, done = [], 0
    with tempfile.TemporaryFile("w+") as stderr, subprocess.Popen(
            command, cwd=crate_dir, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.startswith("{"):
                continue
            message = json.loads(line)
            messages.append(message)
            if message.get("reason") == "compiler-artifact" and "custom-build" not in message["target"]["kind"]:
                done += 1
                progress.update(done, max(total, done) if total else None)
        proc.wait()
        stderr.seek(0)
        errors = stderr.read()
    if proc.returncode != 0:
        raise ToolchainError(f"cargo {' '.join(args)} failed in {crate_dir}:\n{_tail(errors)}")
    return messages


def build_binary(crate_dir: Path, crate: str, target_dir: Path | None = None, profile: str = "release",
                 features: tuple[str, ...] = (), static: bool = False) -> Path:
    """Build the crate's CLI (`release` or `dev` profile, with Cargo `features`) and return the
    binary's path: `crate_dir/target/bin/`, one file per set of options, which no other build
    replaces. `static` links the C runtime in (`-C target-feature=+crt-static`, Linux): a
    binary that needs no shared library."""
    target = target_dir or default_target_dir()
    extra = ["--features", ",".join(features)] if features else []
    options = "-".join([profile, *features, *(["static"] if static else [])])
    private = crate_dir / "target" / "bin" / options / crate
    output = output_dir(["--profile", profile])
    with _target_lock(target, output):
        _claim(crate_dir, target, output)
        with progress.step(f"compiling the crate with cargo ({options})"):
            if static:
                # Given to the binary's own rustc only: proc-macros and build scripts stay dynamic, as they must.
                _compile(["rustc", "--quiet", "--profile", profile, "--bin", crate, *extra, "--",
                          "-C", "target-feature=+crt-static"], crate_dir, target)
            else:
                _compile(["build", "--quiet", "--profile", profile, "--bin", crate, *extra], crate_dir, target)
        built = target / output / crate
        private.parent.mkdir(parents=True, exist_ok=True)
        # A copy, not a hard link: Cargo names a crate's artifacts by its name and version,
        # not its folder, so the next same-named crate's build rewrites this very file.
        shutil.copy2(built, private)
    return private


def maturin() -> str:
    """maturin from onnx2rs's own environment, else from PATH."""
    beside = Path(sys.executable).with_name("maturin")
    path = str(beside) if beside.exists() else shutil.which("maturin")
    if path is None:
        raise ToolchainError("--wheel needs maturin in onnx2rs's environment: pip install maturin")
    return path


def build_wheel(crate_dir: Path, target_dir: Path | None = None, profile: str = "release") -> Path:
    """Build the Python module of a crate made with `--python` as a wheel in `crate_dir/dist/`
    with maturin, in Cargo's `profile` (`dev` for a quick check of a large crate); returns the
    wheel's path.

    Made for a second model's module to build in seconds: it compiles in the shared target
    dir, so PyO3, numpy and ndarray are compiled once; the crate's vendored runtime is swapped
    for one shared copy of the same sources (Cargo takes each vendored copy, at its own path,
    for a new package); and the release profile skips LTO (whole-program optimisation redid
    all of that at every link: 25 s of a 45 s build). The build runs on a copy of the crate
    whose manifest alone differs, in the runtime's path."""
    target, output = target_dir or default_target_dir(), output_dir(["--profile", profile])
    dist = crate_dir / "dist"
    # Wheel builds also take turns among themselves: they share the copies `_wheel_source` makes.
    with _target_lock(target, output), _target_lock(target, "wheels"), \
            progress.step("building the Python wheel with maturin"):
        source = _wheel_source(crate_dir, target)
        _claim(source, target, output)
        _claim(source / "python", target, output)
        env = dict(os.environ, CARGO_TARGET_DIR=str(target), CARGO_PROFILE_RELEASE_LTO="false",
                   CARGO_PROFILE_RELEASE_CODEGEN_UNITS="16")
        result = subprocess.run([maturin(), "build", "--profile", profile, "--quiet", "--target-dir", str(target),
                                 "--out", str(dist), "--interpreter", sys.executable],
                                cwd=source, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise ToolchainError(f"maturin could not build the wheel of {crate_dir}:\n{_tail(result.stderr)}")
    wheels = sorted(dist.glob("*.whl"), key=lambda w: w.stat().st_mtime)
    if not wheels:
        raise ToolchainError(f"maturin reported success but left no wheel in {dist}")
    return wheels[-1]


def _wheel_source(crate_dir: Path, target: Path) -> Path:
    """A copy of `crate_dir` (without target/ and dist/) under `target`, one folder per output
    folder name, whose vendored runtime is replaced by a shared copy named by the hash of its
    sources. A crate linking a runtime outside itself (ONNX2RS_RUNTIME_PATH) is used as it is."""
    vendored = crate_dir / "runtime"
    if not (vendored / "Cargo.toml").is_file():
        return crate_dir
    digest = hashlib.sha256()
    for path in sorted(vendored.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(vendored)).encode() + b"\0" + path.read_bytes())
    runtime = target / "onnx2rs-runtimes" / digest.hexdigest()[:16]
    if not runtime.is_dir():
        partial = runtime.with_name(runtime.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(vendored, partial)
        partial.rename(runtime)
    copy = target / "onnx2rs-wheels" / crate_dir.name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(crate_dir, copy, ignore=lambda folder, names: [
        n for n in names if Path(folder) == crate_dir and n in ("target", "dist", "runtime")])
    manifest = copy / "Cargo.toml"
    text = manifest.read_text()
    pointed = re.sub(r'(onnx2rs-runtime\s*=\s*\{\s*path\s*=\s*)"runtime"',
                     lambda m: m.group(1) + json.dumps(str(runtime)), text, count=1)
    if pointed == text:
        raise ToolchainError(f"{manifest}: no vendored onnx2rs-runtime dependency to share")
    manifest.write_text(pointed)
    return copy
