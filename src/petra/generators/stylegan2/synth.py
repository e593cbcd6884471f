"""Random identities on the StyleGAN2 path (thesis Fig. 4.5): sample, generate, invert, drive.

``random_identity(cfg, seed)`` (the hook ``petra synth`` calls for
``synth.generator: stylegan2``) samples z ~ N(0, I) from the seed and renders G(z) with
noise maps drawn from the same seed, as the released ``tool.py`` does (no truncation,
random noise; ``stylegan2.truncation`` < 1 pulls w toward the generator's mean latent),
and returns a :class:`StyleGAN2Identity`. Its ``drive(frames, method)`` animates it with any
registered Reenactor (``sg2-ours`` by default): the identity image becomes the
target, whose E_i is its ReStyle inversion, so pose and expression come only from
the driving frames. StyleGAN2 has no explicit yaw/expression controls; ``render``
with non-neutral arguments says so instead of guessing.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from petra.errors import PetraError


class StyleGAN2Identity:
    def __init__(self, cfg: Mapping[str, Any], seed: int, image: np.ndarray, w: torch.Tensor) -> None:
        self.cfg, self.seed, self.image, self.w = cfg, seed, image, w

    def render(self, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0,
               expression: Mapping[str, float] | None = None) -> np.ndarray:
        """The identity's own image (aligned crop, ``align.size``)."""
        if yaw or pitch or roll or any((expression or {}).values()):
            raise PetraError("synth: StyleGAN2 identities take pose and expression from a driving image or "
                             "video (--driving); explicit yaw/pitch/roll/expression need synth.generator: mesh")
        return self.image

    def drive(self, frames: Sequence[np.ndarray], method: str = "sg2-ours") -> list[np.ndarray]:
        """Animate the identity with driving crops through a registered method."""
        from petra import generators as methods

        re = methods.create(method, self.cfg)
        re.set_target(self.image)
        if frames:
            re.set_reference(frames[0])
        return [re.drive(f) for f in frames]


@torch.no_grad()
def random_identity(cfg: Mapping[str, Any], seed: int, device: Any = "cpu") -> StyleGAN2Identity:
    """Identity ``seed``: G(z) (truncated when ``stylegan2.truncation`` < 1); w broadcast to W+ [n, 512]."""
    from .methods import to_uint8
    from .parts import load_generator, resize

    g, avg = load_generator(cfg, device)
    if avg is None:
        avg = g.mean_latent(4096)[0]
    z = torch.randn(1, 512, generator=torch.Generator().manual_seed(int(seed))).to(device)
    trunc = float(cfg["stylegan2"].get("truncation", 1.0))
    w = avg + trunc * (g.get_latent(z)[0] - avg)
    w_plus = w[None, None].repeat(1, g.n_latent, 1)
    noise = g.draw_noise(1, torch.Generator(device=torch.device(device)).manual_seed(int(seed)))
    img, _ = g([w_plus], input_is_latent=True, noise=noise, randomize_noise=False)
    return StyleGAN2Identity(cfg, int(seed), to_uint8(resize(img, int(cfg["align"]["size"]))[0]), w_plus[0])
