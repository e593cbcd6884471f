"""The thesis's released network (``psp.py: MypSp``) in its checkpoint layout: E_m, M and G in one module.

``best_model.pt`` of JahodaPetr/Pose-and-Expression-Transfer is ``{'state_dict': {...},
'opts': {...}}`` with three parts, loaded here with ``strict=True``:

* ``encoder.*`` — E_m, :class:`~petra.models.psp_encoder.BackboneEncoderUsingLastLayerIntoWPlus`
  (IR-SE50, input_nc 3, n_styles 18);
* ``mapping_net.*`` — M, :class:`~petra.models.mapping.LinearMapping` (``linear_relu.0``,
  [E_i, E_m] order);
* ``decoder.*`` — G, rosinality ``Generator(output_size, 512, 8, channel_multiplier=2)``.

Forward: source crops [N, 3, 256, 256] in [-1, 1] and identity W+ [N, n, 512] (ReStyle-pSp
inversion of the target) → images [N, 3, output_size, output_size]. The released inference
draws G's noise at random; petra uses G's fixed noise buffers unless given noise maps, so
the same inputs give the same output.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from petra.errors import PetraError
from petra.safeload import safe_torch_load

from .mapping import LinearMapping
from .psp_encoder import BackboneEncoderUsingLastLayerIntoWPlus
from .stylegan2 import Generator


class ThesisTransferNet(nn.Module):
    """``MypSp``: ``encoder`` (E_m), ``mapping_net`` (M), ``decoder`` (G) under the released names."""

    def __init__(self, output_size: int = 1024) -> None:
        super().__init__()
        self.n_styles = int(math.log2(output_size)) * 2 - 2
        self.encoder = BackboneEncoderUsingLastLayerIntoWPlus(50, "ir_se", input_nc=3, n_styles=self.n_styles)
        self.decoder = Generator(output_size, 512, 8, channel_multiplier=2)
        self.mapping_net = LinearMapping(self.n_styles, 512, order="identity_first", init="released")

    def forward(self, source: torch.Tensor, w_identity: torch.Tensor,
                noise: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        w = self.mapping_net(self.encoder(source), w_identity)
        img, _ = self.decoder([w], input_is_latent=True, noise=noise, randomize_noise=False)
        return img


def load_thesis_checkpoint(path: str | Path, sha256: str | None = None) -> tuple[ThesisTransferNet, dict[str, Any]]:
    """``best_model.pt`` → (eval-mode :class:`ThesisTransferNet`, its ``opts``); PetraError naming the file otherwise."""
    obj = safe_torch_load(path, sha256=sha256)
    if not isinstance(obj, Mapping) or not isinstance(obj.get("state_dict"), Mapping):
        raise PetraError(f"{path}: not the thesis's released checkpoint (no 'state_dict')")
    opts = dict(obj.get("opts") or {})
    net = ThesisTransferNet(int(opts.get("output_size", 1024)))
    sd = obj["state_dict"]
    expected = set(net.state_dict())
    missing, unexpected = sorted(expected - set(sd)), sorted(set(sd) - expected)
    if missing or unexpected:
        raise PetraError(f"{path}: keys differ from the released layout (missing {missing[:3]}, unexpected {unexpected[:3]})")
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as err:
        raise PetraError(f"{path}: {str(err).splitlines()[-1].strip()}") from None
    return net.eval(), opts
