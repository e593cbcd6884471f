"""Tiny deterministic random-weight checkpoints for the smoke profile, in the official formats.

CI cannot download StyleGAN2/ReStyle/ArcFace, so the smoke profile builds them with
the fixtures' weight recipe (:mod:`petra.models.recipe`) and saves them exactly as
the official files are laid out, then every stage loads them through the real
loaders (:mod:`petra.generators.stylegan2.parts`):

* generator: rosinality ``{'g_ema': state_dict, 'latent_avg': [512]}``;
* ReStyle pSp / e4e: ``{'state_dict': {'encoder.*', 'decoder.*'}, 'latent_avg':
  [n_latent, 512], 'opts': {...}}`` whose decoder is the same generator;
* ArcFace: the plain IR-SE50 ``Backbone`` state_dict (``model_ir_se50.pth``);
* OpenGraphAU (the evaluation's AU model): ``{'epoch', 'state_dict': {'module.*'}, 'optimizer'}``
  as the official training script saves it, backbone from ``evaluate.opengraphau``.

Each file gets a ``.sha256`` sidecar; the same profile always yields the same bytes.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from petra.io import atomic_path_with_sidecar, verified
from petra.zoo import smoke_file

from .parts import n_latent


def _save(obj: Any, path: Path) -> None:
    import torch

    with atomic_path_with_sidecar(path) as tmp:
        torch.save(obj, tmp)


def build_smoke_weights(cfg: Mapping[str, Any], force: bool = False, log: Any = print,
                        only: tuple[str, ...] = ("generator", "restyle_psp", "restyle_e4e", "arcface", "opengraphau"),
                        ) -> dict[str, Path]:
    """Write (or keep, when present and verified) the smoke weight files ``only``; returns their paths."""
    import torch

    from petra.models.arcface_irse50 import Backbone
    from petra.models.recipe import STYLEGAN2_OVERRIDES, recipe_state_dict
    from petra.models.restyle import ReStyle
    from petra.models.stylegan2 import Generator

    size = int(cfg["stylegan2"]["size"])
    paths = {k: smoke_file(cfg, k) for k in only}
    if not force and all(_verified(p) for p in paths.values()):
        log(f"smoke-weights: {len(paths)} files present and verified in {next(iter(paths.values())).parent}")
        return paths
    torch.manual_seed(0)
    g = Generator(size, 512, 8, channel_multiplier=2)
    g_sd = recipe_state_dict(g.state_dict(), STYLEGAN2_OVERRIDES)
    g.load_state_dict(g_sd, strict=True)
    with torch.no_grad():
        z = torch.randn(4096, 512, generator=torch.Generator().manual_seed(1))
        latent_avg = g.style(z).mean(0)
    if "generator" in paths:
        _save({"g_ema": g_sd, "latent_avg": latent_avg}, paths["generator"])

    n = n_latent(size)
    for kind, enc_type in (("psp", "BackboneEncoder"), ("e4e", "ProgressiveBackboneEncoder")):
        if f"restyle_{kind}" not in paths:
            continue
        net = ReStyle(enc_type, output_size=size)
        enc_sd = recipe_state_dict(net.encoder.state_dict())
        sd = {f"encoder.{k}": v for k, v in enc_sd.items()}
        sd.update({f"decoder.{k}": v for k, v in g_sd.items()})
        opts = {"encoder_type": enc_type, "input_nc": 6, "output_size": size, "dataset_type": "ffhq_encode",
                "n_iters_per_batch": int(cfg["stylegan2"]["restyle_iters"]), "petra_smoke": True}
        _save({"state_dict": sd, "latent_avg": latent_avg.repeat(n, 1), "opts": opts}, paths[f"restyle_{kind}"])
        del net, enc_sd, sd

    if "arcface" in paths:
        face = Backbone(50, 0.6, "ir_se")
        _save(recipe_state_dict(face.state_dict()), paths["arcface"])
    if "opengraphau" in paths:
        from petra.models.opengraphau import MEFARG
        from petra.zoo import opengraphau_backbone

        au_sd = recipe_state_dict(MEFARG(backbone=opengraphau_backbone(cfg)).state_dict())
        _save({"epoch": 0, "state_dict": {f"module.{k}": v for k, v in au_sd.items()},
               "optimizer": {"state": {}, "param_groups": []}}, paths["opengraphau"])
    log(f"smoke-weights: wrote {len(paths)} deterministic random-weight files to {next(iter(paths.values())).parent}")
    return paths


def _verified(path: Path) -> bool:
    return verified(path)
