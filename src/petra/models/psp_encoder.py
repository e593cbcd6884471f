"""pSp's IR-SE50 encoders to W+: the two that have served as the thesis's motion encoder E_m.

Keys match ``pixel2style2pixel/models/encoders/psp_encoders.py`` (the thesis's released
``psp_encoders.py`` keeps the same classes and names):

* :class:`BackboneEncoderUsingLastLayerIntoWPlus` — E_m of the released code (checkpoint
  prefix ``encoder.``): trunk → BN → 7×7 pool → Linear 25088→512 → EqualLinear 512→n·512
  (``input_layer``, ``body``, ``output_layer_2.{0,3}``, ``linear``; 48.5 M parameters at n=18);
* :class:`GradualStyleEncoder` — the encoder the thesis text names (``input_layer``, ``body``,
  ``styles.i.{convs,linear}``, ``latlayer1/2``; ~267 M parameters at n=18). Coarse styles
  (0..2) come from the 16² map, middle (3..6) from 32², fine (7..) from 64².

Input [N, input_nc, 256, 256] in [-1, 1] → [N, n_styles, 512].
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .irse import Flatten, make_body, make_input_layer
from .stylegan2 import EqualLinear


class GradualStyleBlock(nn.Module):
    """Strided 3x3 convs + LeakyReLU(0.01) down to 1x1, then an EqualLinear: one W vector."""

    def __init__(self, in_c: int, out_c: int, spatial: int) -> None:
        super().__init__()
        self.out_c = out_c
        self.spatial = spatial
        num_pools = int(math.log2(spatial))
        modules: list[nn.Module] = [nn.Conv2d(in_c, out_c, kernel_size=3, stride=2, padding=1), nn.LeakyReLU()]
        for _ in range(num_pools - 1):
            modules += [nn.Conv2d(out_c, out_c, kernel_size=3, stride=2, padding=1), nn.LeakyReLU()]
        self.convs = nn.Sequential(*modules)
        self.linear = EqualLinear(out_c, out_c, lr_mul=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(x).view(-1, self.out_c))


class GradualStyleEncoder(nn.Module):
    """pSp ``GradualStyleEncoder(num_layers, mode, opts)`` with opts.input_nc / opts.n_styles."""

    def __init__(self, num_layers: int = 50, mode: str = "ir_se", input_nc: int = 3, n_styles: int = 18) -> None:
        super().__init__()
        self.input_layer = make_input_layer(input_nc)
        self.body = make_body(num_layers, mode)
        self.style_count = n_styles
        self.coarse_ind = 3
        self.middle_ind = 7
        self.styles = nn.ModuleList(
            GradualStyleBlock(512, 512, 16 if i < self.coarse_ind else 32 if i < self.middle_ind else 64)
            for i in range(n_styles)
        )
        self.latlayer1 = nn.Conv2d(256, 512, kernel_size=1, stride=1, padding=0)
        self.latlayer2 = nn.Conv2d(128, 512, kernel_size=1, stride=1, padding=0)

    @staticmethod
    def _upsample_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=y.shape[-2:], mode="bilinear", align_corners=True) + y

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Trunk taps c1 (body[6], 64²), c2 (body[20], 32²), c3 (body[23], 16²) for a 256-px input."""
        x = self.input_layer(x)
        c1 = c2 = None
        for i, layer in enumerate(self.body):
            x = layer(x)
            if i == 6:
                c1 = x
            elif i == 20:
                c2 = x
        return c1, c2, x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1, c2, c3 = self.features(x)
        latents = [self.styles[j](c3) for j in range(self.coarse_ind)]
        p2 = self._upsample_add(c3, self.latlayer1(c2))
        latents += [self.styles[j](p2) for j in range(self.coarse_ind, self.middle_ind)]
        p1 = self._upsample_add(p2, self.latlayer2(c1))
        latents += [self.styles[j](p1) for j in range(self.middle_ind, self.style_count)]
        return torch.stack(latents, dim=1)


class BackboneEncoderUsingLastLayerIntoWPlus(nn.Module):
    """pSp ``BackboneEncoderUsingLastLayerIntoWPlus(num_layers, mode, opts)``: one W+ from the last map.

    The released thesis code's E_m (``psp.py``: ``MypSp.encoder``). The 7×7 adaptive pool
    makes the head independent of the input size (16² trunk output at 256 px).
    """

    def __init__(self, num_layers: int = 50, mode: str = "ir_se", input_nc: int = 3, n_styles: int = 18) -> None:
        super().__init__()
        self.n_styles = n_styles
        self.input_layer = make_input_layer(input_nc)
        self.output_layer_2 = nn.Sequential(nn.BatchNorm2d(512), nn.AdaptiveAvgPool2d((7, 7)), Flatten(),
                                            nn.Linear(512 * 7 * 7, 512))
        self.linear = EqualLinear(512, 512 * n_styles, lr_mul=1)
        self.body = make_body(num_layers, mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.output_layer_2(self.body(self.input_layer(x)))
        return self.linear(x).view(-1, self.n_styles, 512)
