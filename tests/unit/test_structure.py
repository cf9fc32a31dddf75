"""The source tree keeps the shape docs/design.md draws.

- Imports follow the pipeline: a module imports only from its own layer or the layers before it
  (core → ops → frontend → passes → codegen → driver → tools → cli), so data flows one way and
  no stage knows the ones after it.
- Every source file, Python and Rust, stays small enough to hold in one's head.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "onnx2rs"

# Each top-level module or subpackage of onnx2rs, by layer, in pipeline order.
LAYERS: list[set[str]] = [
    # The IR, its types and what every stage may use.
    {"errors", "dtypes", "ir", "invariants", "limits", "resources", "ui", "progress", "outputs", "toolchain",
     "reference"},
    # What each op is: registry, lowering, checks (read by every later stage).
    {"ops"},
    {"frontend"},
    {"passes"},
    {"codegen"},
    # The driver that runs the stages in order.
    {"build", "preflight", "__init__"},
    {"tools"},
    {"cli", "__main__"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}

# Lines per file, tests included: Python modules, and the runtime's Rust sources (about 600;
# conv.rs and linalg.rs were 1,500 before they became folders, load.py 700 before it split).
PYTHON_LINES = 610
RUST_LINES = 610


def _component(module: Path) -> str:
    """The top-level module or subpackage of onnx2rs that `module` belongs to."""
    parts = module.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imported_components(module: Path) -> set[str]:
    """The onnx2rs components `module` imports, at the top or inside functions."""
    tree = ast.parse(module.read_text())
    package = module.relative_to(ROOT).with_suffix("").parts
    package = package if package[-1] == "__init__" else package[:-1]
    package = tuple(p for p in package if p != "__init__")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                target = [*base, *(node.module.split(".") if node.module else [])]
            else:
                target = (node.module or "").split(".")
            if target[0] != "onnx2rs":
                continue
            if len(target) > 1:
                found.add(target[1])
            else:  # from onnx2rs import a, b
                found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "onnx2rs" and len(parts) > 1:
                    found.add(parts[1])
    return found


def test_every_component_has_a_layer() -> None:
    components = {_component(p) for p in PACKAGE.rglob("*.py")}
    assert components, "no modules found"
    assert components <= set(LAYER), f"not in any layer: {sorted(components - set(LAYER))}"


def test_imports_run_with_the_pipeline() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 20
    backwards = []
    for module in modules:
        own = LAYER[_component(module)]
        for imported in _imported_components(module):
            if imported in LAYER and LAYER[imported] > own:
                backwards.append(f"{module.relative_to(ROOT)} imports {imported} (layer {LAYER[imported]} > {own})")
    assert not backwards, "imports against the pipeline:\n" + "\n".join(backwards)


def test_no_source_file_outgrows_a_reader() -> None:
    files = [*PACKAGE.rglob("*.py"), *ROOT.glob("runtime-crate/src/**/*.rs")]
    sizes = {p: len(p.read_text().splitlines()) for p in files}
    assert len(sizes) > 40
    limit = {".py": PYTHON_LINES, ".rs": RUST_LINES}
    large = {str(p.relative_to(ROOT)): n for p, n in sizes.items() if n > limit[p.suffix]}
    assert not large, f"split these by what a reader looks for: {large}"
