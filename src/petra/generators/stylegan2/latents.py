"""E_i for the StyleGAN2 path: ReStyle (pSp or e4e) iterative inversion to W+.

:class:`ReStyleInverter` wraps the model zoo's ReStyle network and the official
``run_on_batch`` loop (``stylegan2.restyle_iters`` steps from the average
latent/image); inputs are aligned crops resized to 256 px as the official
transform does. As a latents backend it stores ``w`` [N, n_latent, 512] and, with
``latents.flips``, ``w_flip`` for the horizontally flipped crop (the baseline's
neutral averages frames and their flips).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch


class ReStyleInverter:
    name = "restyle"

    def __init__(self, cfg: Mapping[str, Any], kind: str = "psp", device: Any = "cpu") -> None:
        from .parts import load_restyle

        self.cfg, self.kind, self.device = cfg, kind, torch.device(device)
        self.name = kind
        self.net = load_restyle(cfg, kind, self.device)
        self.n_iters = int(cfg["stylegan2"]["restyle_iters"])
        self.enc_size = int(cfg["stylegan2"].get("encoder_input", 256))
        self.flips = bool(cfg.get("latents", {}).get("flips", True))
        with torch.no_grad():
            self.avg_image = self.net.average_image()

    @torch.no_grad()
    def invert_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, 3, H, W] in [-1, 1] → W+ [N, n_latent, 512] (final ReStyle iteration).

        At ``encoder_input`` 256 this is the official ``run_on_batch``; a smaller input
        (the smoke profile's 64 px, 16× cheaper on a CPU) runs the same loop with the
        average image and reconstructions pooled to that size instead of 256.
        """
        from petra.models.restyle import run_on_batch

        size = self.enc_size
        x = x.to(self.device).float()
        if x.shape[-1] != size:
            x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        if size == 256:
            return run_on_batch(x, self.net, self.avg_image, n_iters=self.n_iters).latents[-1].float()
        pool = torch.nn.AdaptiveAvgPool2d((size, size))
        y_hat = pool(self.avg_image.unsqueeze(0)).repeat(len(x), 1, 1, 1)
        latent = self.net.latent_avg.unsqueeze(0).repeat(len(x), 1, 1)
        for it in range(self.n_iters):
            latent = self.net.encoder(torch.cat([x, y_hat], 1)) + latent
            if it < self.n_iters - 1:  # the last reconstruction is not needed for the code
                y, _ = self.net.decoder([latent], input_is_latent=True, randomize_noise=False)
                y_hat = pool(y)
        return latent.float()

    def invert_images(self, images: list[np.ndarray]) -> torch.Tensor:
        """RGB uint8 crops → W+ [N, n_latent, 512] (official 256-px preprocessing)."""
        from petra.models.restyle import preprocess

        x = torch.cat([preprocess(im) for im in images])
        return self.invert_tensor(x)

    def encode(self, images: list[np.ndarray]) -> dict[str, np.ndarray]:
        """The latents-backend entry: ``w`` and (with flips) ``w_flip``."""
        out = {"w": self.invert_images(images).cpu().numpy()}
        if self.flips:
            out["w_flip"] = self.invert_images([np.ascontiguousarray(im[:, ::-1]) for im in images]).cpu().numpy()
        return out


def psp_backend(cfg: Mapping[str, Any], device: Any = "cpu") -> ReStyleInverter:
    return ReStyleInverter(cfg, "psp", device)


def e4e_backend(cfg: Mapping[str, Any], device: Any = "cpu") -> ReStyleInverter:
    return ReStyleInverter(cfg, "e4e", device)
