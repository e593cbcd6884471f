"""``sg2-ours`` / ``-cos`` / ``-gen`` / ``-text``: a trained variant as a Reenactor.

Loads the checkpoint chosen by ``petra select`` (``<paths.models>/selected/
<method>.json``; the latest checkpoint when ``allow_latest``), rebuilds E_m, M (and
the tuned G of the gen variant) and renders g = G(M(E_m(driving) ⊕ E_i(target))).
E_i(target) is the stored ReStyle-pSp code of a manifest frame, else an inversion.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from petra.train import checkpoint as ckpt
from petra.paths import selected_path
from petra.errors import InputError


def best_checkpoint(cfg: Mapping[str, Any], variant: str, allow_latest: bool = False) -> Path:
    from petra.train.select import selected_checkpoint

    path = selected_checkpoint(cfg, f"sg2-{variant}", allow_latest)
    if path is None:
        raise InputError(selected_path(cfg, f"sg2-{variant}"), "no selected checkpoint; run `petra train` and `petra select` first")
    return path


class LearnedReenactor:
    def __init__(self, cfg: Mapping[str, Any], variant: str, checkpoint: str | Path | None = None,
                 device: Any = "cpu", allow_latest: bool = False) -> None:
        from .lookup import CodeLookup
        from .recipe import StyleGAN2Recipe

        self.name = f"sg2-{variant}"
        self.size = int(cfg["align"]["size"])
        path = Path(checkpoint) if checkpoint else best_checkpoint(cfg, variant, allow_latest)
        obj = ckpt.load_checkpoint(path)
        params = dict(obj["config"]["params"])
        # inference needs no loss networks: one cheap active term keeps D/LPIPS unloaded
        params["weights"] = {"l2": 1.0, "lpips": 0.0, "id": 0.0, "cos": 0.0, "l2_crop": 0.0, "lpips_crop": 0.0}
        self.recipe = StyleGAN2Recipe(cfg, params, device)
        self.recipe.load_state_dict(obj["parts"])
        self.recipe.train(False)
        self.codes = CodeLookup(cfg, "psp", device)
        self.step = int(obj["step"])

    def set_target(self, target: np.ndarray) -> None:
        self.w_t = self.codes.code(target)[None]

    def set_reference(self, driving0: np.ndarray) -> None:
        pass  # the learned method is driven by absolute motion, as in the thesis

    @torch.no_grad()
    def drive(self, driving: np.ndarray) -> np.ndarray:
        from .methods import to_uint8

        s = torch.from_numpy(np.ascontiguousarray(driving)).permute(2, 0, 1)[None].float().div(127.5).sub(1)
        s = s.to(self.recipe.device)
        return to_uint8(self.recipe.render(self.recipe.M(self.recipe.motion(s), self.w_t), self.size)[0])

    def drive_batch(self, driving: torch.Tensor, w_t: torch.Tensor) -> torch.Tensor:
        """Batched form for validation: driving [N, 3, H, W] in [-1, 1], w_t [N, n, 512]."""
        with torch.no_grad():
            return self.recipe.render(self.recipe.M(self.recipe.motion(driving), w_t), driving.shape[-1])
