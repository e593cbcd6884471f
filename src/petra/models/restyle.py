"""ReStyle iterative inversion (pSp and e4e variants) in the official checkpoint layout.

Encoders: ``BackboneEncoder`` (ReStyle-pSp) and ``ProgressiveBackboneEncoder``
(ReStyle-e4e): IR-SE50 trunk with a 6-channel input ([image, current reconstruction]),
all ``n_styles`` W vectors read from the final 16² map. The e4e encoder predicts one
w0 plus per-layer deltas. The full model (:class:`ReStyle`) holds ``encoder``, ``decoder``
(StyleGAN2 1024) and ``latent_avg`` [n_styles, 512], so an official
``restyle_{psp,e4e}_ffhq_encode.pt`` (``state_dict`` with ``encoder.*``/``decoder.*``,
``latent_avg``, ``opts``) loads through :func:`load_restyle`.

Inference (``utils/inference_utils.py``): the average image = decoder(latent_avg)
pooled to 256; iteration 0 feeds cat([x, avg_image]) and adds latent_avg; iteration t
feeds cat([x, pool256(ŷ_{t-1})]) and adds the previous W+. Inputs: FFHQ-aligned RGB
resized to 256 and normalised to [-1, 1] (:func:`preprocess`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .irse import make_body, make_input_layer
from .psp_encoder import GradualStyleBlock
from .stylegan2 import Generator
from petra.safeload import safe_torch_load
from petra.errors import PetraError

N_ITERS_DEFAULT = 5


class _Backbone(nn.Module):
    """The layout both ReStyle encoders share: ``input_layer``, ``body``, one ``styles`` head per W (16² map)."""

    def __init__(self, num_layers: int = 50, mode: str = "ir_se", n_styles: int = 18, input_nc: int = 6) -> None:
        super().__init__()
        self.input_layer = make_input_layer(input_nc)
        self.body = make_body(num_layers, mode)
        self.style_count = n_styles
        self.styles = nn.ModuleList(GradualStyleBlock(512, 512, 16) for _ in range(n_styles))


class BackboneEncoder(_Backbone):
    """ReStyle-pSp encoder: every style from its own map2style head on the 16² map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, input_nc, 256, 256] → residual W+ [N, n_styles, 512]."""
        x = self.body(self.input_layer(x))
        return torch.stack([s(x) for s in self.styles], dim=1)


class ProgressiveBackboneEncoder(_Backbone):
    """ReStyle-e4e encoder: w0 from ``styles[0]`` broadcast, plus deltas from the other heads.

    ``progressive_stage`` = number of deltas in use (18 = the official ``Inference`` stage:
    all of them).
    """

    INFERENCE_STAGE = 18

    def __init__(self, num_layers: int = 50, mode: str = "ir_se", n_styles: int = 18, input_nc: int = 6) -> None:
        super().__init__(num_layers, mode, n_styles, input_nc)
        self.progressive_stage = self.INFERENCE_STAGE

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.body(self.input_layer(x))
        w0 = self.styles[0](x)
        w = w0.repeat(self.style_count, 1, 1).permute(1, 0, 2)
        for i in range(1, min(self.progressive_stage + 1, self.style_count)):
            w[:, i] += self.styles[i](x)
        return w


ENCODERS = {"BackboneEncoder": BackboneEncoder, "ProgressiveBackboneEncoder": ProgressiveBackboneEncoder}


class ReStyle(nn.Module):
    """pSp/e4e ReStyle network: ``encoder``, ``decoder``, ``face_pool`` and ``latent_avg``."""

    def __init__(self, encoder_type: str = "BackboneEncoder", output_size: int = 1024, input_nc: int = 6) -> None:
        super().__init__()
        if encoder_type not in ENCODERS:
            raise ValueError(f"unsupported encoder_type {encoder_type!r}; petra supports {sorted(ENCODERS)}")
        self.encoder_type = encoder_type
        self.n_styles = int(math.log2(output_size)) * 2 - 2
        self.encoder = ENCODERS[encoder_type](50, "ir_se", self.n_styles, input_nc)
        self.decoder = Generator(output_size, 512, 8, channel_multiplier=2)
        self.face_pool = nn.AdaptiveAvgPool2d((256, 256))
        self.register_buffer("latent_avg", torch.zeros(self.n_styles, 512), persistent=False)

    def forward(self, x: torch.Tensor, latent: torch.Tensor | None = None, resize: bool = True,
                input_code: bool = False, randomize_noise: bool = False,
                return_latents: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """One ReStyle step. x: [N, 6, 256, 256] (or W+ codes with ``input_code``)."""
        if input_code:
            codes = x
        else:
            codes = self.encoder(x)
            if x.shape[1] == 6 and latent is not None:
                codes = codes + latent
            else:
                codes = codes + self.latent_avg.repeat(codes.shape[0], 1, 1)
        images, result_latent = self.decoder([codes], input_is_latent=True, randomize_noise=randomize_noise,
                                             return_latents=return_latents)
        if resize:
            images = self.face_pool(images)
        return (images, result_latent) if return_latents else images

    @torch.no_grad()
    def average_image(self) -> torch.Tensor:
        """``get_average_image``: decoder(latent_avg) pooled to 256 → [3, 256, 256]."""
        img = self(self.latent_avg.unsqueeze(0), input_code=True, randomize_noise=False, resize=True)
        return img[0].float().detach()


@dataclass
class IterationResult:
    """Per-iteration outputs of :func:`run_on_batch` (index = iteration)."""

    images: list[torch.Tensor]  # each [N, 3, S, S] (S = 1024 unless resize_outputs)
    latents: list[torch.Tensor]  # each [N, n_styles, 512]


@torch.no_grad()
def run_on_batch(inputs: torch.Tensor, net: ReStyle, avg_image: torch.Tensor | None = None,
                 n_iters: int = N_ITERS_DEFAULT, resize_outputs: bool = False) -> IterationResult:
    """Official iterative refinement: ``n_iters`` residual steps from the average image/latent.

    inputs: [N, 3, 256, 256] in [-1, 1].
    """
    if avg_image is None:
        avg_image = net.average_image()
    y_hat: torch.Tensor | None = None
    latent: torch.Tensor | None = None
    result = IterationResult([], [])
    for it in range(n_iters):
        if it == 0:
            x_input = torch.cat([inputs, avg_image.unsqueeze(0).repeat(inputs.shape[0], 1, 1, 1)], dim=1)
        else:
            x_input = torch.cat([inputs, y_hat], dim=1)
        y_hat, latent = net(x_input, latent=latent, randomize_noise=False, return_latents=True, resize=resize_outputs)
        result.images.append(y_hat)
        result.latents.append(latent)
        y_hat = net.face_pool(y_hat)
    return result


def preprocess(rgb: np.ndarray) -> torch.Tensor:
    """Official EncodeTransforms.transform_inference: Resize((256,256)) → ToTensor → Normalize(0.5, 0.5).

    rgb: H×W×3 uint8 (FFHQ-aligned) → [1, 3, 256, 256] in [-1, 1]. The resize is PIL
    bilinear, as torchvision's Resize on a PIL image.
    """
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb))
    if img.size != (256, 256):
        img = img.resize((256, 256), Image.BILINEAR)
    t = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return ((t - 0.5) / 0.5).unsqueeze(0)


def tensor2im(x: torch.Tensor) -> np.ndarray:
    """Official ``tensor2im``: [3,H,W] in [-1,1] → uint8 H×W×3 ((x+1)/2 clamped, ×255, truncated)."""
    arr = ((x.detach().cpu().float().permute(1, 2, 0).numpy() + 1) / 2).clip(0, 1) * 255
    return arr.astype(np.uint8)


def _opt(opts: Any, name: str, default: Any = None) -> Any:
    if isinstance(opts, Mapping):
        return opts.get(name, default)
    return getattr(opts, name, default)


def restyle_from_checkpoint(ckpt: Mapping[str, Any], encoder_type: str | None = None) -> ReStyle:
    """Build a ReStyle network from an already-loaded official checkpoint dict.

    Like the official ``load_weights``: encoder keys load with strict=False (the official
    behaviour; petra then checks nothing but unused keys were skipped), decoder strict.
    """
    opts = ckpt.get("opts", {}) or {}
    encoder_type = encoder_type or _opt(opts, "encoder_type", "BackboneEncoder")
    output_size = int(_opt(opts, "output_size", 1024))
    input_nc = int(_opt(opts, "input_nc", 6))
    net = ReStyle(encoder_type, output_size, input_nc)
    sd = ckpt.get("state_dict", ckpt)
    enc = {k[len("encoder."):]: v for k, v in sd.items() if k.startswith("encoder.")}
    dec = {k[len("decoder."):]: v for k, v in sd.items() if k.startswith("decoder.")}
    missing, _unexpected = net.encoder.load_state_dict(enc, strict=False)
    if missing:

        raise PetraError(f"ReStyle checkpoint ({encoder_type}) lacks encoder keys, e.g. {missing[:3]}")
    net.decoder.load_state_dict(dec, strict=True)
    if "latent_avg" in ckpt and ckpt["latent_avg"] is not None:
        la = ckpt["latent_avg"].float()
        net.latent_avg = la.repeat(net.n_styles, 1) if la.ndim == 1 else la
    return net.eval()


def load_restyle(path: str, sha256: str | None = None, encoder_type: str | None = None) -> ReStyle:
    """Official ReStyle ``.pt`` file → eval-mode :class:`ReStyle` (safe weights_only load)."""

    return restyle_from_checkpoint(safe_torch_load(path, sha256=sha256), encoder_type)
