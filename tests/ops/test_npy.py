"""The runtime's `.npy` reader and writer (runtime-crate/src/npy.rs) against numpy's: every
element type the CLI takes, C and Fortran order, both byte orders, format versions 1.0 to
3.0, 0-d and empty arrays; and malformed files are errors, never a crash."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.cargo

RUNTIME = Path(__file__).resolve().parents[2] / "runtime-crate"
DTYPES = ["f32", "f64", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "bool"]
NUMPY = {"f32": np.float32, "f64": np.float64, "bool": np.bool_,
         **{f"{k}{b}": np.dtype(f"{'int' if k == 'i' else 'uint'}{b}").type
            for k in "iu" for b in (8, 16, 32, 64)}}


def _copy(lines: list[str]) -> list[str]:
    """Run the runtime's `npy_copy` example over `lines`; its answer for each."""
    done = subprocess.run(["cargo", "run", "--release", "--quiet", "--example", "npy_copy"], cwd=RUNTIME,
                          input="".join(f"{line}\n" for line in lines), capture_output=True, text=True,
                          check=True, env=os.environ)
    return done.stdout.splitlines()


def _array(dtype: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    kind = NUMPY[dtype]
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.startswith("f"):
        return rng.standard_normal(shape).astype(kind)
    info = np.iinfo(kind)
    return rng.integers(info.min, info.max, shape, dtype=kind, endpoint=True)


def test_files_numpy_writes_read_back_and_rewritten_as_numpy_reads_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    cases = []
    for dtype in DTYPES:
        for shape, order, byteorder, version in [((2, 3, 4), "C", "<", (1, 0)), ((3, 5), "F", "<", (1, 0)),
                                                 ((7,), "C", ">", (2, 0)), ((), "C", "<", (3, 0)),
                                                 ((0, 4), "C", "<", (1, 0)), ((1, 3, 33, 17), "C", "<", None)]:
            x = _array(dtype, shape, rng)
            if byteorder == ">" and x.dtype.itemsize > 1:
                x = x.astype(x.dtype.newbyteorder(">"))
            x = np.asarray(x, order=order)
            source = tmp_path / f"{len(cases)}.npy"
            if version is None:
                np.save(source, x)
            else:
                with open(source, "wb") as f:
                    np.lib.format.write_array(f, x, version=version)
            cases.append((dtype, x, source, tmp_path / f"{len(cases)}.out.npy"))
    answers = _copy([f"{d} {s} {o}" for d, _, s, o in cases])
    failed = [(d, x.shape, a) for (d, x, _, _), a in zip(cases, answers, strict=True) if a != "ok"]
    assert answers == ["ok"] * len(cases), failed
    for dtype, x, _, out in cases:
        back = np.load(out)
        assert back.dtype == np.dtype(NUMPY[dtype]) and back.shape == x.shape, (dtype, x.shape, back.dtype)
        np.testing.assert_array_equal(back, x)


def _same_length(header: bytes, old: bytes, new: bytes) -> bytes:
    """`header` with `old` replaced by `new`, its space padding shortened to keep its length."""
    text = header.replace(old, new).rstrip()
    return text + b" " * (len(header) - len(text) - 1) + b"\n"


def test_malformed_or_mismatched_files_are_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.npy"
    np.save(good, np.arange(12, dtype=np.float32).reshape(3, 4))
    data = good.read_bytes()
    header_end = data.index(b"\n") + 1
    files = {
        "truncated values": data[:-4],
        "extra bytes": data + b"\0\0\0\0",
        "no magic": b"NOTNUMPY" + data[8:],
        "too short": data[:5],
        "version 9": data[:6] + b"\x09\x00" + data[8:],
        "garbled header": data[:10] + b"{'descr': '<f4', 'shape': (3, 4) 'x'" + data[10 + 36:],
        "huge shape": data[:10] + _same_length(data[10:header_end], b"(3, 4)", b"(99999999999, 99999999999)")
        + data[header_end:],
        "empty": b"",
    }
    lines = []
    for name, content in files.items():
        path = tmp_path / f"{name.replace(' ', '_')}.npy"
        path.write_bytes(content)
        lines.append(f"f32 {path} {tmp_path / 'out.npy'}")
    lines.append(f"i32 {good} {tmp_path / 'out.npy'}")  # a float32 file read as int32
    lines.append(f"f32 {tmp_path} {tmp_path / 'out.npy'}")  # a folder
    answers = _copy(lines)
    kinds = {**{name: "malformed file:" for name in files}, "wrong dtype": "bad input:", "a folder": "i/o error:"}
    assert len(answers) == len(kinds)
    for (name, kind), answer in zip(kinds.items(), answers, strict=True):
        assert answer.startswith(kind), (name, answer)
    assert "is too large" in answers[list(files).index("huge shape")]
    assert "is a folder" in answers[-1]
