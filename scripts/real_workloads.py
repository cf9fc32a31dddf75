"""The real workloads of the benchmark set (P8): pretrained models from PyPI wheels, and
architectures users deploy, built in code with seeded random weights (never from a hub).

Each entry gives an ONNX file and the `--input-shape`s it is compiled with. Pretrained
files come from `scripts/fetch_real_models.py`'s cache; the torch-built ones are exported
with a symbolic batch, so that batch 32 is timed as well.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Workload:
    """One model of the set: how to get its ONNX file, and the shapes it runs at."""

    name: str
    make: Callable[[Path], Path]
    input_shapes: dict[str, list[int]] = field(default_factory=dict)
    note: str = ""


def _cached(file: str) -> Callable[[Path], Path]:
    def get(_: Path) -> Path:
        sys.path.insert(0, str(ROOT / "scripts"))
        from fetch_real_models import cache_dir, fetch_all

        fetch_all()
        return cache_dir() / file
    return get


def _export(module, example, path: Path, names: tuple[str, ...] = ("x",)) -> Path:
    import torch

    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, example, str(path), input_names=list(names), output_names=["y"],
                          dynamic_axes={n: {0: "batch"} for n in names}, opset_version=17, dynamo=False)
    import onnx

    model = onnx.load(str(path))
    model.ir_version = min(model.ir_version, 10)  # onnxruntime 1.31 reads IR version 13 at most
    onnx.save(model, str(path))
    return path


def _torchvision(name: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        import torch
        import torchvision

        torch.manual_seed(3)
        model = getattr(torchvision.models, name)(weights=None)
        return _export(model, torch.randn(1, 3, 224, 224), folder / f"{name}.onnx")
    return make


def _yolo(folder: Path) -> Path:
    """A YOLOv8n-shaped detector: Conv-BN-SiLU, C2f blocks, SPPF, an FPN/PAN neck with nearest
    upsampling and concatenation, and three detection heads."""
    import torch
    from torch import nn

    class ConvBN(nn.Sequential):
        def __init__(self, c_in: int, c_out: int, k: int = 3, s: int = 1) -> None:
            super().__init__(nn.Conv2d(c_in, c_out, k, s, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.SiLU())

    class C2f(nn.Module):
        def __init__(self, c_in: int, c_out: int, n: int) -> None:
            super().__init__()
            self.hidden = c_out // 2
            self.cv1 = ConvBN(c_in, 2 * self.hidden, 1)
            self.blocks = nn.ModuleList(
                nn.Sequential(ConvBN(self.hidden, self.hidden), ConvBN(self.hidden, self.hidden)) for _ in range(n))
            self.cv2 = ConvBN((2 + n) * self.hidden, c_out, 1)

        def forward(self, x):
            parts = list(self.cv1(x).split(self.hidden, 1))
            for block in self.blocks:
                parts.append(parts[-1] + block(parts[-1]))
            return self.cv2(torch.cat(parts, 1))

    class SPPF(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.cv1, self.cv2 = ConvBN(c, c // 2, 1), ConvBN(c * 2, c, 1)
            self.pool = nn.MaxPool2d(5, 1, 2)

        def forward(self, x):
            a = self.cv1(x)
            b = self.pool(a)
            c = self.pool(b)
            return self.cv2(torch.cat([a, b, c, self.pool(c)], 1))

    class Detector(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(ConvBN(3, 16, 3, 2), ConvBN(16, 32, 3, 2), C2f(32, 32, 1))
            self.p3 = nn.Sequential(ConvBN(32, 64, 3, 2), C2f(64, 64, 2))
            self.p4 = nn.Sequential(ConvBN(64, 128, 3, 2), C2f(128, 128, 2))
            self.p5 = nn.Sequential(ConvBN(128, 256, 3, 2), C2f(256, 256, 1), SPPF(256))
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.n4, self.n3 = C2f(384, 128, 1), C2f(192, 64, 1)
            self.d3, self.m4 = ConvBN(64, 64, 3, 2), C2f(192, 128, 1)
            self.d4, self.m5 = ConvBN(128, 128, 3, 2), C2f(384, 256, 1)
            self.heads = nn.ModuleList(nn.Sequential(ConvBN(c, 64), ConvBN(64, 64), nn.Conv2d(64, 84, 1))
                                       for c in (64, 128, 256))

        def forward(self, x):
            p3 = self.p3(self.stem(x))
            p4 = self.p4(p3)
            p5 = self.p5(p4)
            n4 = self.n4(torch.cat([self.up(p5), p4], 1))
            n3 = self.n3(torch.cat([self.up(n4), p3], 1))
            m4 = self.m4(torch.cat([self.d3(n3), n4], 1))
            m5 = self.m5(torch.cat([self.d4(m4), p5], 1))
            outs = [head(f).flatten(2) for head, f in zip(self.heads, (n3, m4, m5), strict=True)]
            return torch.cat(outs, 2)

    torch.manual_seed(3)
    model = Detector()
    for m in model.modules():  # trained-like batch-norm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return _export(model, torch.randn(1, 3, 320, 320), folder / "yolo_style.onnx")


def _bert(folder: Path) -> Path:
    """A BERT-base-sized encoder: 12 post-norm layers, 768 wide, 12 heads, GELU, sequence 128."""
    import torch
    from torch import nn

    class Layer(nn.Module):
        def __init__(self, d: int = 768, heads: int = 12) -> None:
            super().__init__()
            self.heads, self.d = heads, d
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.ff1, self.ff2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
            self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            att = torch.softmax(q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5, dim=-1)
            x = self.norm1(x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d)))
            return self.norm2(x + self.ff2(nn.functional.gelu(self.ff1(x))))

    torch.manual_seed(3)
    model = nn.Sequential(*(Layer() for _ in range(12)))
    return _export(model, torch.randn(1, 128, 768), folder / "bert_base.onnx")


OCR = "rapidocr-onnxruntime-1.4.4"
VAD = "silero-vad-6.2.3"
WORKLOADS = [
    Workload("ppocrv4_det_640", _cached(f"{OCR}/ch_PP-OCRv4_det_infer.onnx"), {"x": [1, 3, 640, 640]}),
    Workload("ppocrv4_rec_48x320", _cached(f"{OCR}/ch_PP-OCRv4_rec_infer.onnx"), {"x": [1, 3, 48, 320]}),
    Workload("ppocr_cls_48x192", _cached(f"{OCR}/ch_ppocr_mobile_v2.0_cls_infer.onnx"), {"x": [1, 3, 48, 192]}),
    Workload("silero_vad_openvino_16k", _cached(f"{VAD}/silero_vad_openvino_16k.onnx")),  # fixed at 576
    Workload("silero_vad", _cached(f"{VAD}/silero_vad.onnx"), {"input": [1, 512], "state": [2, 1, 128]}),
    Workload("mobilenet_v3_small_224", _torchvision("mobilenet_v3_small")),
    Workload("resnet18_224", _torchvision("resnet18")),
    Workload("yolo_style_320", _yolo),
    Workload("bert_base_128", _bert),
]
