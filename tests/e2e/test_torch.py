"""PyTorch modules through `onnx2rs.from_torch`: the crate must give torch's own outputs.

Runs wherever torch is importable (`make test` installs the `[torch]` extra).
Each module is built in-test with seeded random weights and non-trivial
BatchNorm statistics, compiled, and compared with torch at atol = rtol = 1e-4;
the generated crate's own tests (against ONNX Runtime, and the zero-allocation
check) must pass, and the memory plan must beat the naive sum of intermediates.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from onnx2rs import from_torch, toolchain
from onnx2rs.tools.analyze import analyze
from onnx2rs.tools.verify import run_cli

from ..helpers import assert_crate_tests_pass

torch = pytest.importorskip("torch")
nn = torch.nn
pytestmark = [pytest.mark.cargo, pytest.mark.torch]
logging.getLogger("torch.onnx").setLevel(logging.ERROR)


class _Block(nn.Module):
    """A ResNet basic block: two 3x3 conv + BN, a residual Add, ReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        return torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


class SmallResNet(nn.Module):
    """Conv stem, two residual blocks, global average pool, linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
        self.blocks = nn.Sequential(_Block(16), _Block(16))
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        pooled = nn.functional.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1)
        return self.head(torch.flatten(pooled, 1))


class Encoder(nn.Module):
    """A two-layer `nn.TransformerEncoder` (attention, LayerNorm, feed-forward)."""

    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)

    def forward(self, x):
        return self.encoder(x)


class GRUText(nn.Module):
    """Token ids -> Embedding -> two stacked GRU layers -> linear head on the last step."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(100, 16)
        self.gru = nn.GRU(16, 24, num_layers=2, batch_first=True)
        self.head = nn.Linear(24, 3)

    def forward(self, tokens):
        states, _ = self.gru(self.embedding(tokens))
        return self.head(states[:, -1])


MODELS = {
    "resnet": (SmallResNet, lambda g: torch.randn(1, 3, 32, 32, generator=g)),
    "transformer": (Encoder, lambda g: torch.randn(1, 10, 32, generator=g)),
    "gru": (GRUText, lambda g: torch.randint(0, 100, (1, 12), generator=g)),
}


def _seeded(name: str) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    cls, make_input = MODELS[name]
    module = cls().eval()
    for m in module.modules():  # fresh BN statistics are the identity: make them matter
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return module, make_input(torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_compiled_module_matches_torch(name: str, tmp_path: Path) -> None:
    module, x = _seeded(name)
    with torch.no_grad():
        expected = module(x).numpy()
    result = from_torch(module, (x,), tmp_path / name)
    binary = toolchain.build_binary(result.out_dir, result.crate, profile="dev")
    (ours,) = run_cli(binary, [x.numpy()], 1, tmp_path)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)
    assert_crate_tests_pass(result.out_dir)  # ONNX Runtime's outputs, and zero allocations per run


@pytest.mark.parametrize("name", sorted(MODELS))
def test_memory_plan_beats_naive_sum(name: str) -> None:
    from onnx2rs.frontend.frameworks import pytorch

    module, x = _seeded(name)
    report = analyze(pytorch.export(module, (x,)))
    assert 0 < report.arena_bytes < report.naive_bytes
    print(f"{name}: arena {report.arena_bytes} B / naive {report.naive_bytes} B = {report.ratio:.1%}")


def test_exported_program_file_builds_like_the_module(tmp_path: Path) -> None:
    """`onnx2rs build model.pt2`: a torch.export.save file goes through the same pipeline."""
    from onnx2rs import compile_model

    module, x = _seeded("resnet")
    path = tmp_path / "resnet.pt2"
    torch.export.save(torch.export.export(module, (x,)), str(path))
    with torch.no_grad():
        expected = module(x).numpy()
    result = compile_model(path, tmp_path / "crate")
    assert result.crate == "resnet"
    binary = toolchain.build_binary(result.out_dir, result.crate, profile="dev")
    (ours,) = run_cli(binary, [x.numpy()], 1, tmp_path)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name, features", [("resnet", ()), ("gru", ()), ("gru", ("threads",))])
def test_dynamic_batch_runs_any_batch_size(name: str, features: tuple[str, ...], tmp_path: Path) -> None:
    """Exported with a symbolic batch, the crate accepts batch 1 and batch 32 (per-sample runs;
    with the `threads` feature, shared out between threads)."""
    module, x1 = _seeded(name)
    generator = torch.Generator().manual_seed(2)
    x32 = torch.cat([MODELS[name][1](generator) for _ in range(32)])
    result = from_torch(module, (x1,), tmp_path / name, dynamic_batch=True)
    assert result.dynamic_batch
    binary = toolchain.build_binary(result.out_dir, result.crate, profile="dev", features=features)
    if features:
        toolchain.cargo(["clippy", "--all-targets", "--quiet", "--features", ",".join(features), "--",
                         "-D", "warnings"], result.out_dir)
    for x in (x1, x32):
        with torch.no_grad():
            expected = module(x).numpy()
        (ours,) = run_cli(binary, [x.numpy()], 1, tmp_path)
        assert ours.shape == expected.shape
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


def test_static_batch_model_refuses_other_batch_sizes(tmp_path: Path) -> None:
    module, x1 = _seeded("resnet")
    result = from_torch(module, (x1,), tmp_path / "static")
    assert not result.dynamic_batch
    binary = toolchain.build_binary(result.out_dir, result.crate, profile="dev")
    with pytest.raises(Exception, match="must have shape"):
        run_cli(binary, [np.zeros((2, 3, 32, 32), np.float32)], 1, tmp_path)


def test_transformer_encoder_exported_with_a_dynamic_length_has_a_plan_at_every_length(tmp_path: Path) -> None:
    """torch.onnx.export with `dynamic_shapes`: the sequence length S stays open through
    `analyze --dynamic`, with the attention's reshapes computed from Shape at run time folded
    into expressions; each step's shape is ONNX Runtime's at S = 1 and 512."""
    import onnx
    import sympy

    from onnx2rs import CompileOptions

    from ..helpers import every_value_shape

    path = _encoder_with_open_length(tmp_path)
    model = onnx.load(path)
    (name,) = [i.name for i in model.graph.input]
    a = analyze(path, CompileOptions(input_shapes={name: [1, 17, 32]}), {name: [1, "S", 32]})
    assert a.open_dims == {"S": 17} and a.dynamic_note == ""
    assert all(s.dims is not None for s in a.steps)
    s_ = sympy.Symbol("S", integer=True, positive=True)
    for n in (1, 512):
        x = np.random.default_rng(n).standard_normal((1, n, 32)).astype(np.float32)
        reference = every_value_shape(model, {name: x})
        compared = [s for s in a.steps if s.output in reference]
        assert len(compared) >= len(a.steps) // 2
        got = {s.output: tuple(int(sympy.sympify(d, locals={"S": s_}).subs(s_, n)) for d in s.dims) for s in compared}
        assert got == {s.output: reference[s.output] for s in compared}, n


def _encoder_with_open_length(tmp_path: Path) -> Path:
    """A Transformer encoder layer exported with its sequence length S open (`dynamic_shapes`)."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, dropout=0.0).eval()
    path = tmp_path / "encoder.onnx"
    length = torch.export.Dim("S", min=1, max=1024)
    torch.onnx.export(layer, (torch.randn(1, 17, 32),), path, dynamo=True, dynamic_shapes={"src": {1: length}})
    return path


@pytest.mark.cargo
def test_transformer_encoder_built_once_runs_at_every_length(tmp_path: Path) -> None:
    """P11's acceptance: built once with S open, the encoder matches ONNX Runtime at S = 17 (the
    plan's), 1 and 512, two calls each through one session (the crate's own tests)."""
    import onnx

    from onnx2rs import CompileOptions, compile_model
    from onnx2rs.reference import run_onnxruntime

    path = _encoder_with_open_length(tmp_path)
    model = onnx.load(path)
    (name,) = [i.name for i in model.graph.input]
    sets = []
    for n in (17, 1, 512):
        feeds = {name: np.random.default_rng(n).standard_normal((1, n, 32)).astype(np.float32)}
        sets.append((feeds, run_onnxruntime(model, feeds)))
    result = compile_model(path, tmp_path / "crate", CompileOptions(
        name="encoder", input_shapes={name: [1, 17, 32]}, dynamic={name: [1, "S", 32]},
        reference=sets[0], more_references=sets[1:]))
    assert result.graph.probe == {"S": 17}
    assert_crate_tests_pass(result.out_dir, open_dims=True)
