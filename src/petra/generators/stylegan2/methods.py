"""``sg2-baseline-psp`` / ``sg2-baseline-e4e``: the latent-arithmetic baseline as a Reenactor.

set_target: z_R = neutral of the target's video (manifest frame) or of the image
and its flip; set_reference: z_A0 likewise for the driving video; drive: G(z_R +
α (z_A1 − z_A0)) with z_A1 the driving frame's code.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .baseline.arithmetic import neutral, transfer
from petra.paths import baseline_dir


class LatentArithmetic:
    def __init__(self, cfg: Mapping[str, Any], encoder: str, device: Any = "cpu") -> None:
        from petra.latents import store as S
        from .lookup import CodeLookup
        from .parts import load_generator

        self.name = f"sg2-baseline-{encoder}"
        self.cfg, self.device = cfg, torch.device(device)
        self.alpha = float(cfg["baseline"]["alpha"])
        self.size = int(cfg["align"]["size"])
        self.G, _ = load_generator(cfg, self.device)
        self.codes = CodeLookup(cfg, encoder, self.device)
        npath = baseline_dir(cfg, encoder) / "neutrals.pt"
        self.neutrals: dict[str, torch.Tensor] = {}
        if npath.is_file():
            sh = S.read_shard(npath)
            self.neutrals = {v: sh["arrays"]["w"][i] for i, v in enumerate(sh["keys"])}

    def _neutral(self, rgb: np.ndarray) -> torch.Tensor:
        hit = self.codes.frame(rgb)
        if hit is not None and hit[1] in self.neutrals:
            return self.neutrals[hit[1]].to(self.device)
        return neutral(self.codes.code(rgb)[None], self.codes.code(rgb, flip=True)[None])

    def set_target(self, target: np.ndarray) -> None:
        self.z_R = self._neutral(target)

    def set_reference(self, driving0: np.ndarray) -> None:
        self.z_A0 = self._neutral(driving0)

    @torch.no_grad()
    def drive(self, driving: np.ndarray) -> np.ndarray:
        from .parts import resize

        if getattr(self, "z_A0", None) is None:  # no reference given: the first driving frame is it
            self.set_reference(driving)
        w = transfer(self.z_R, self.codes.code(driving), self.z_A0, self.alpha)
        img, _ = self.G([w[None]], input_is_latent=True, randomize_noise=False)
        return to_uint8(resize(img, self.size)[0])


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """[3, H, W] in [-1, 1] → H×W×3 uint8 (rounded)."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()

