"""Write resnet50-light.onnx: ResNet-50's graph at a quarter of its width, for build-time figures.

    python scripts/make_resnet50_light.py [OUT.onnx]

The layout is torchvision's ResNet-50 (a 7x7 stem, bottleneck stages of 3, 4, 6 and 3 blocks,
1x1 projection shortcuts, global average pooling, a 1000-way head) with every width divided by 4,
seeded random weights and non-trivial BatchNorm statistics; input 1x3x224x224. It is the model
that issue P5's build-time targets name (`onnx2rs build` ≤ 2 s, release compile ≤ 60 s), small
enough in weights (6.5 MB) that those figures measure the compiler, not the disk.
Needs the `[torch]` extra.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

WIDTH = 16  # torchvision's is 64
STAGES = [(3, 1), (4, 2), (6, 2), (3, 2)]  # (blocks, stride of the first block)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand by 4, each with BatchNorm; residual Add; ReLU."""

    def __init__(self, inputs: int, width: int, stride: int) -> None:
        super().__init__()
        outputs = width * 4
        self.body = nn.Sequential(
            nn.Conv2d(inputs, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, outputs, 1, bias=False), nn.BatchNorm2d(outputs),
        )
        self.shortcut = nn.Identity()
        if stride != 1 or inputs != outputs:
            self.shortcut = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


class ResNet50Light(nn.Module):
    """ResNet-50 with widths 16/32/64/128 (bottleneck outputs 64/128/256/512)."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, WIDTH, 7, 2, 3, bias=False), nn.BatchNorm2d(WIDTH), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
        ]
        inputs = WIDTH
        for stage, (blocks, stride) in enumerate(STAGES):
            width = WIDTH * 2**stage
            for block in range(blocks):
                layers.append(Bottleneck(inputs, width, stride if block == 0 else 1))
                inputs = width * 4
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(inputs, 1000)

    def forward(self, x):
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1))


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "resnet50-light.onnx")
    torch.manual_seed(0)
    model = ResNet50Light().eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), str(out), dynamo=False, opset_version=17,
                      input_names=["image"], output_names=["logits"])
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
