"""The StyleGAN2 path's parts, loaded one way for every stage (latents, train, methods).

* :func:`petra.zoo.weight_file` — where a weight lives and its sha256: the weight registry
  (:mod:`petra.weights`) for official files; for the smoke profile
  (``stylegan2.smoke_weights``) the deterministic random-weight files written by
  :mod:`petra.generators.stylegan2.smoke_weights`, verified against their ``.sha256`` sidecars.
* loaders through the model zoo's real loaders: G (rosinality ``g_ema``), ReStyle
  pSp / e4e (E_i), ArcFace IR-SE50 (D), LPIPS;
* E_m (:func:`build_motion_encoder`): pSp's ``BackboneEncoderUsingLastLayerIntoWPlus``
  (the released code) or ``GradualStyleEncoder`` (the thesis text), input layer and
  IR-SE50 body initialised from ArcFace as pSp does; for CI only, :class:`TinyMotionEncoder`.

Shapes: crops [N, 3, H, W] in [-1, 1]; W+ [N, n_latent, 512].
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from petra.zoo import weight_file

# registry name -> file name used when petra.weights has no entry (smoke files)
def n_latent(size: int) -> int:
    """W+ rows of a StyleGAN2 generator of this resolution (18 at 1024, 10 at 64)."""
    return 2 * (int(size).bit_length() - 1) - 2


def load_generator(cfg: Mapping[str, Any], device: Any = "cpu") -> tuple[nn.Module, torch.Tensor | None]:
    """G: rosinality ``Generator(size, 512, 8, channel_multiplier)`` from ``g_ema``; also ``latent_avg``."""
    from petra.models.stylegan2 import load_rosinality_checkpoint

    path, sha = weight_file(cfg, "generator")
    g, avg = load_rosinality_checkpoint(str(path), size=int(cfg["stylegan2"]["size"]), sha256=sha)
    return g.to(device).eval(), (avg.to(device) if avg is not None else None)


def load_restyle(cfg: Mapping[str, Any], kind: str, device: Any = "cpu") -> nn.Module:
    """E_i: a ReStyle network (``kind`` psp or e4e) with its decoder, eval mode."""
    from petra.models.restyle import load_restyle as _load

    path, sha = weight_file(cfg, f"restyle_{kind}")
    net = _load(str(path), sha256=sha)
    return net.to(device).eval()


def load_arcface(cfg: Mapping[str, Any], device: Any = "cpu") -> nn.Module:
    """D: ArcFace IR-SE50 (``model_ir_se50.pth``), eval mode, frozen."""
    from petra.models.arcface_irse50 import load_arcface as _load

    path, sha = weight_file(cfg, "arcface")
    net = _load(str(path), sha256=sha).to(device).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def load_lpips(cfg: Mapping[str, Any], net: str = "alex", device: Any = "cpu") -> nn.Module:
    from petra.zoo import load_lpips as _load

    return _load(cfg, net).to(device)


def arcface_embed(facenet: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """pSp ``extract_feats`` on a crop of any size: resized to 256, inner crop, 112 px → [N, 512]."""
    from petra.models.arcface_irse50 import extract_feats

    if x.shape[-1] != 256:
        x = F.interpolate(x, size=(256, 256), mode="bilinear", align_corners=False)
    return extract_feats(facenet, x)


def arcface_embed_whole(facenet: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The released thesis code's ``IDLoss.extract_feats``: the whole image pooled to 112, no crop → [N, 512]."""
    return facenet(F.adaptive_avg_pool2d(x, (112, 112)))


ID_EMBEDDINGS = {"whole": arcface_embed_whole, "psp_crop": arcface_embed}  # train.sg2.id_input


class TinyMotionEncoder(nn.Module):
    """CI-only E_m: four strided convs and a linear head to W+ (a few hundred k parameters).

    Same contract as the pSp encoder (crop [N, 3, H, W] → W+ [N, n_styles, 512]); it
    exists so the smoke profile can train a few steps on a CPU. Not a thesis model.
    """

    def __init__(self, n_styles: int, width: int = 32) -> None:
        super().__init__()
        self.n_styles = n_styles
        c = width
        self.body = nn.Sequential(
            nn.Conv2d(3, c, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 4 * c, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * c, 4 * c, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(4 * c, n_styles * 512)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).view(len(x), self.n_styles, 512)


MOTION_ENCODERS = ("last_layer", "gradual")  # train.sg2.motion_encoder


def build_motion_encoder(cfg: Mapping[str, Any], kind: str = "last_layer", device: Any = "cpu") -> nn.Module:
    """E_m of ``kind`` (``last_layer``: released code; ``gradual``: thesis text) at the generator's n_latent.

    ``stylegan2.tiny_motion_encoder`` (CI) replaces either by :class:`TinyMotionEncoder`.
    With ``stylegan2.init_motion_from_arcface`` the input layer and IR-SE50 body start from
    ArcFace, as pSp does for RGB input (``load_state_dict(ir_se50, strict=False)``); the
    heads keep their own initialisation. The released ``MypSp`` loads no weights unless
    given a checkpoint (it would start from random E_m and G); petra follows pSp here.
    """
    sg = cfg["stylegan2"]
    n = n_latent(sg["size"])
    torch.manual_seed(int(cfg.get("seed", 0)))
    if sg.get("tiny_motion_encoder"):
        return TinyMotionEncoder(n).to(device)
    from petra.models.psp_encoder import BackboneEncoderUsingLastLayerIntoWPlus, GradualStyleEncoder

    if kind not in MOTION_ENCODERS:
        raise ValueError(f"unknown motion encoder {kind!r}; known: {MOTION_ENCODERS}")
    cls = BackboneEncoderUsingLastLayerIntoWPlus if kind == "last_layer" else GradualStyleEncoder
    enc = cls(50, "ir_se", input_nc=3, n_styles=n)
    if sg.get("init_motion_from_arcface", True):
        path, sha = weight_file(cfg, "arcface")
        from petra import weights

        sd = weights.safe_torch_load(str(path), sha256=sha)
        trunk = {k: v for k, v in sd.items() if k.startswith(("input_layer.", "body."))}
        missing = set(trunk) - set(enc.state_dict())
        if missing:
            raise ValueError(f"{path}: ArcFace keys {sorted(missing)[:3]} have no place in E_m")
        enc.load_state_dict(trunk, strict=False)
    return enc.to(device)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a batch to size×size (area-like pooling down, bilinear up)."""
    if x.shape[-1] == size:
        return x
    if x.shape[-1] > size:
        return F.adaptive_avg_pool2d(x, (size, size))
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
