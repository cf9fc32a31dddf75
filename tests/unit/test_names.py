"""The name sanitiser: identifiers are valid, injective and never keywords; strings are escaped."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from onnx2rs.codegen.names import RUST_KEYWORDS, Names, crate_name, rust_str

IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


@given(st.lists(st.text(max_size=60), max_size=40))
def test_identifiers_are_valid_and_injective(names: list[str]) -> None:
    table = Names()
    idents = {name: table.ident(name) for name in names}
    for ident in idents.values():
        assert IDENT.match(ident) and ident not in RUST_KEYWORDS and ident != "_"
    assert len(set(idents.values())) == len(idents)  # distinct names, distinct identifiers
    assert all(table.ident(n) == i for n, i in idents.items())  # stable


def test_hostile_and_colliding_names() -> None:
    table = Names()
    hostile = ['"); std::process::exit(1); //', 'r#"', "self", "type", "a-b", "a_b", "A B", "9lives", "",
               "x" * 10_000, "ünïcödé"]
    idents = [table.ident(n) for n in hostile]
    assert len(set(idents)) == len(hostile)
    assert all(IDENT.match(i) and len(i) < 60 for i in idents)


@given(st.text())
def test_rust_str_is_a_single_safe_literal(text: str) -> None:
    lit = rust_str(text)
    assert lit.startswith('"') and lit.endswith('"')
    body = lit[1:-1]
    assert all(" " <= ch <= "~" for ch in body)  # printable ASCII only: no newline can end a comment
    assert re.fullmatch(r'(?:[^"\\]|\\["\\]|\\u\{[0-9a-f]+\})*', body)
    decoded = re.sub(r"\\u\{([0-9a-f]+)\}", lambda m: chr(int(m.group(1), 16)), body)
    assert decoded.replace('\\"', '"').replace("\\\\", "\\") == text or "\\" in text


def test_crate_name() -> None:
    assert crate_name("My Model") == "my_model"
    assert crate_name("123") == "v_123"
    assert crate_name("") == "v"
    for reserved in ("std", "crate", "self", "fn", "ndarray", "onnx2rs-runtime"):
        assert crate_name(reserved) == reserved.replace("-", "_") + "_model"


def test_a_bytecode_cache_that_cannot_be_written_does_not_fail_rendering(tmp_path, monkeypatch) -> None:
    """The template cache is an optimisation: a cache whose folder is gone (writes fail)
    renders the same file as no cache at all."""
    from onnx2rs.codegen import render
    from onnx2rs.codegen.names import Names

    def call_site() -> str:
        return render.Renderer(Names(), set()).file("gitignore")

    monkeypatch.setattr(render, "_BYTECODE_CACHE", render._BestEffortCache(str(tmp_path / "gone")))
    cached = call_site()
    monkeypatch.setattr(render, "_BYTECODE_CACHE", None)
    assert cached == call_site()
    assert "target" in cached


def test_each_cargo_command_is_locked_by_the_folder_it_builds_into() -> None:
    """Builds into different folders of the shared target dir run side by side (toolchain.py)."""
    from onnx2rs.toolchain import output_dir

    assert output_dir(["build", "--release", "--bin", "m"]) == "release"
    assert output_dir(["build", "--quiet", "--profile", "dev"]) == "debug"
    assert output_dir(["rustc", "--profile", "release", "--", "-C", "x"]) == "release"
    assert output_dir(["clippy", "--all-targets"]) == output_dir(["test"]) == "debug"
    assert output_dir(["bench", "--no-run"]) == "release"
    assert output_dir(["build", "--profile", "profiling"]) == "profiling"
