"""IR-SE residual blocks shared by ArcFace, pSp and ReStyle (TreB1eN layout, written once).

Key names follow TreB1eN/InsightFace_Pytorch ``model.py`` (copied verbatim by pSp and
ReStyle as ``models/encoders/helpers.py``): a unit is ``shortcut_layer`` (MaxPool
identity or 1x1 conv + BN) plus ``res_layer`` = BN, 3x3 conv, PReLU, 3x3 conv
(stride), BN, SE. ``get_blocks(50)`` gives 3+4+14+3 = 24 units; for a 256-px input
``body[6]``, ``body[20]``, ``body[23]`` are the 64², 32², 16² maps pSp taps.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class BlockSpec(NamedTuple):
    """One residual unit: input channels, output channels (``depth``), stride."""

    in_channel: int
    depth: int
    stride: int


def get_block(in_channel: int, depth: int, num_units: int, stride: int = 2) -> list[BlockSpec]:
    return [BlockSpec(in_channel, depth, stride)] + [BlockSpec(depth, depth, 1) for _ in range(num_units - 1)]


def get_blocks(num_layers: int) -> list[list[BlockSpec]]:
    """The four stages of IR-50/100/152."""
    units = {50: (3, 4, 14, 3), 100: (3, 13, 30, 3), 152: (3, 8, 36, 3)}
    if num_layers not in units:
        raise ValueError(f"num_layers must be one of {sorted(units)}, got {num_layers}")
    a, b, c, d = units[num_layers]
    return [get_block(64, 64, a), get_block(64, 128, b), get_block(128, 256, c), get_block(256, 512, d)]


class Flatten(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.size(0), -1)


def l2_norm(x: torch.Tensor, axis: int = 1) -> torch.Tensor:
    """Divide by the L2 norm along ``axis`` (TreB1eN: no epsilon)."""
    return torch.div(x, torch.norm(x, 2, axis, True))


class SEModule(nn.Module):
    """Squeeze-and-excitation gate (keys ``fc1``, ``fc2``, 1x1 convs without bias)."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, kernel_size=1, padding=0, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, kernel_size=1, padding=0, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


def _shortcut(in_channel: int, depth: int, stride: int) -> nn.Module:
    if in_channel == depth:
        return nn.MaxPool2d(1, stride)
    return nn.Sequential(nn.Conv2d(in_channel, depth, (1, 1), stride, bias=False), nn.BatchNorm2d(depth))


def _res_layer(in_channel: int, depth: int, stride: int, se: bool) -> nn.Sequential:
    """BN, 3x3 conv, PReLU, 3x3 conv (stride), BN[, SE]: keys ``res_layer.0..4`` (``.5`` = SE)."""
    layers: list[nn.Module] = [
        nn.BatchNorm2d(in_channel),
        nn.Conv2d(in_channel, depth, (3, 3), (1, 1), 1, bias=False),
        nn.PReLU(depth),
        nn.Conv2d(depth, depth, (3, 3), stride, 1, bias=False),
        nn.BatchNorm2d(depth),
    ]
    if se:
        layers.append(SEModule(depth, 16))
    return nn.Sequential(*layers)


class _IRUnit(nn.Module):
    """``shortcut_layer`` + ``res_layer``; the two official unit classes differ only in the SE gate."""

    se: bool = False

    def __init__(self, in_channel: int, depth: int, stride: int) -> None:
        super().__init__()
        self.shortcut_layer = _shortcut(in_channel, depth, stride)
        self.res_layer = _res_layer(in_channel, depth, stride, self.se)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class bottleneck_IR(_IRUnit):
    """Improved residual unit without SE."""


class bottleneck_IR_SE(_IRUnit):
    """Improved residual unit with a squeeze-and-excitation gate (reduction 16)."""

    se = True


def make_input_layer(input_nc: int) -> nn.Sequential:
    """3x3 conv (no bias) + BN + PReLU: ``input_layer.{0,1,2}``."""
    return nn.Sequential(nn.Conv2d(input_nc, 64, (3, 3), 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64))


def make_body(num_layers: int = 50, mode: str = "ir_se") -> nn.Sequential:
    """The residual trunk ``body.0 .. body.N-1``."""
    if mode not in ("ir", "ir_se"):
        raise ValueError(f"mode must be 'ir' or 'ir_se', got {mode!r}")
    unit = bottleneck_IR_SE if mode == "ir_se" else bottleneck_IR
    return nn.Sequential(*[unit(b.in_channel, b.depth, b.stride) for block in get_blocks(num_layers) for b in block])
