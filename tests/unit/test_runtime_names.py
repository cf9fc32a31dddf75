"""Every runtime item that lowering can emit exists in runtime-crate, checked without cargo.

A renamed or unexported runtime function used to surface only when a generated crate failed
to build. Here the runtime's public `ops` items are read from its sources (the `pub use` lists
of `ops/mod.rs`, and the `pub` items and macro-made functions of the modules it re-exports
whole), and compared with every `ops::NAME` that the compiler writes: in the generated code of
every op case (tests/ops/cases.py) and of the codegen snapshot models, and spelled literally in
the templates and the lowering code's typed calls.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from onnx2rs import CompileOptions, compile_model
from onnx2rs.reference import run_onnxruntime
from onnx2rs.resources import runtime_dir, templates_dir

from ..codegen.test_snapshot import CASES as SNAPSHOT_CASES
from ..ops.cases import CASES, merged_model

ROOT = Path(__file__).resolve().parents[2]
# `ops::NAME`: the first path segment after `ops::` (a function, type or constant).
OPS_PATH = re.compile(r"(?<![\w:])ops::([A-Za-z_][A-Za-z0-9_]*)")


def runtime_exports() -> set[str]:
    """The public items of `onnx2rs_runtime::ops`, read from the runtime's sources."""
    ops = Path(runtime_dir()) / "src" / "ops"
    mod = (ops / "mod.rs").read_text()
    names = set(re.findall(r"^pub(?:\(crate\))? fn ([a-z_0-9]+)", mod, flags=re.M))
    for module, listed in re.findall(r"^pub use (\w+)::(\{[^}]*\}|\w+|\*);", mod, flags=re.M):
        if listed != "*":
            names |= {n.strip() for n in listed.strip("{}").split(",") if n.strip()}
            continue
        source = (ops / f"{module}.rs").read_text()
        names |= set(re.findall(r"^pub (?:fn|struct|enum|trait|const|type) ([A-Za-z_][A-Za-z0-9_]*)", source,
                                flags=re.M))
        # Functions made by the module's macros: `name / name_into / name_inplace <Bound> ...`
        # and `name_into = |...|` lines inside `..._ops! { }` invocations.
        for block in re.findall(r"^\w+_ops! \{(.*?)^\}", source, flags=re.M | re.S):
            for line in block.splitlines():
                line = line.strip()
                if line and not line.startswith("//"):
                    head = re.split(r"[<=]", line, maxsplit=1)[0]
                    names |= {n.strip() for n in head.split("/") if n.strip()}
    return names


def _emitted(folder: Path) -> set[str]:
    return {m for f in ("src/model.rs", "src/lib.rs") for m in OPS_PATH.findall((folder / f).read_text())}


@pytest.fixture(scope="module")
def exports() -> set[str]:
    names = runtime_exports()
    # The reader must find what every crate uses; if it finds nothing, the check proves nothing.
    assert {"conv_into", "add_into", "relu_inplace", "Unary", "PackedB", "reshape_into"} <= names
    return names


def test_the_code_of_every_op_case_calls_what_the_runtime_exports(exports: set[str], tmp_path: Path) -> None:
    emitted: set[str] = set()
    for opset in sorted({c.opset for c in CASES}):
        model, feeds = merged_model([c for c in CASES if c.opset == opset], opset)
        # The cases' own inputs for the recorded reference (random ones can be invalid operands).
        options = CompileOptions(reference=(feeds, run_onnxruntime(model, feeds)))
        emitted |= _emitted(compile_model(model, tmp_path / f"opset{opset}", options).out_dir)
    for case, (build, options, _) in SNAPSHOT_CASES.items():
        emitted |= _emitted(compile_model(build(), tmp_path / case, options).out_dir)
    assert len(emitted) > 60, sorted(emitted)
    assert emitted <= exports, f"not exported by runtime-crate's ops: {sorted(emitted - exports)}"


def test_names_spelled_in_templates_and_lowering_exist(exports: set[str]) -> None:
    spelled: set[str] = set()
    for path in [*Path(templates_dir()).rglob("*.j2"), *(ROOT / "onnx2rs").rglob("*.py")]:
        text = path.read_text()
        spelled |= set(OPS_PATH.findall(text))
        # Typed calls (ops/rust.py): `ctx.call("fn"`, `RustCall("fn"`, and a struct's or variant's
        # first segment, `Struct("GemmParams"`, `Struct(f"Unary::{..}"`.
        spelled |= set(re.findall(r"\b(?:ctx\.call|RustCall)\(\s*f?\"([A-Za-z_0-9]+)", text))
        spelled |= set(re.findall(r"\bStruct\(\s*f?\"([A-Za-z_0-9]+)", text))
    assert len(spelled) > 50
    assert spelled <= exports, f"not exported by runtime-crate's ops: {sorted(spelled - exports)}"
