"""The refinement network: a small U-Net at half resolution with a full-resolution output.

Why this shape: at 256² the hand-made render costs ~12 ms on two CPU cores, so the net
has ~25 ms for the refined method to stay above 25 fps. Its trunk runs at S/2…S/8
(a stride-2 stem), and its output (RGB residual + blend mask) is brought back to S by
a pixel shuffle, so every output pixel gets its own value while the warped image
keeps its full-resolution detail: ``out = base + mask·residual``. The last layer starts
at zero, so an untrained net is the hand-made transfer exactly.
"""
from __future__ import annotations

import torch
from torch import nn

IN_CHANNELS = 8  # base RGB, target RGB, the driver's region change (luma), region mask


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.2, inplace=True))


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.2, inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.LeakyReLU(0.2, inplace=True))


class RefineNet(nn.Module):
    """``forward(x [B, 8, S, S]) -> refined [B, 3, S, S]`` in [-1, 1]; S divisible by 16."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(IN_CHANNELS, w, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True))
        self.e1 = _conv(w, w)  # one conv at S/2, two below: most of the cost is the S/2 level
        self.e2 = _block(w, 2 * w)
        self.e3 = _block(2 * w, 4 * w)
        self.d2 = _block(4 * w + 2 * w, 2 * w)
        self.d1 = _conv(2 * w + w, w)
        self.out = nn.Sequential(nn.Conv2d(w, 4 * 4, 3, padding=1), nn.PixelShuffle(2))
        nn.init.zeros_(self.out[0].weight)
        nn.init.zeros_(self.out[0].bias)
        self.pool = nn.AvgPool2d(2)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = x[:, :3]
        h1 = self.e1(self.stem(x))
        h2 = self.e2(self.pool(h1))
        h3 = self.e3(self.pool(h2))
        u2 = self.d2(torch.cat([self.up(h3), h2], dim=1))
        u1 = self.d1(torch.cat([self.up(u2), h1], dim=1))
        o = self.out(u1)
        resid, mask = torch.tanh(o[:, :3]), torch.sigmoid(o[:, 3:4])
        return (base + 2.0 * mask * resid).clamp(-1.0, 1.0)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
