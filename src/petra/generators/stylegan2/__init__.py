"""The StyleGAN2 generator (the thesis): ReStyle inversion (E_i, latents.py), E_m and the
linear M (parts.py), StyleGAN2-FFHQ G, trained by the shared loop (recipe.py); the
latent-arithmetic baseline (baseline/, methods.py). Registry hooks: :func:`build_method`,
:func:`prepare_training`, :func:`train_rule`. Kept import-light: torch loads inside the hooks."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from petra.config import deep_merge
from petra.errors import PetraError
from petra.device import resolve_device
from petra.paths import baseline_dir, latents_dir


def build_method(method: Any, cfg: Mapping[str, Any], checkpoint: Any = None) -> Any:
    """``sg2-baseline-<encoder>`` (latent arithmetic), ``sg2-thesis-released`` or a trained ``sg2-<variant>``."""
    if method.kind == "baseline":
        from .methods import LatentArithmetic

        return LatentArithmetic(cfg, method.variant.removeprefix("baseline-"))
    if method.kind == "pretrained":
        from .released import ReleasedReenactor

        return ReleasedReenactor(cfg, _registry_weight(method), path=checkpoint)
    from .trained import LearnedReenactor

    return LearnedReenactor(cfg, method.variant, checkpoint=checkpoint)


def variant_params(cfg: Mapping[str, Any], variant: str) -> dict[str, Any]:
    """``train`` params with ``train.variants[variant]`` deep-merged over them."""

    train = dict(cfg["train"])
    variants = train.pop("variants", {}) or {}
    if variant not in variants:
        raise PetraError(f"params: unknown variant {variant!r}; train.variants has {sorted(variants)}")
    out = deep_merge(train, variants[variant] or {})
    out["variant"] = variant
    return out


def prepare_training(cfg: Mapping[str, Any], method: Any, manifest: Any,
                     log: Callable[[str], None] = print) -> tuple[dict[str, Any], Any, Any]:
    """(params, recipe, manifest) for the shared loop."""

    from .recipe import StyleGAN2Recipe

    params = variant_params(cfg, method.variant)
    return params, StyleGAN2Recipe(cfg, params, resolve_device(params.get("device", "auto"))), manifest


def train_rule(cfg: Mapping[str, Any], method: Any) -> dict[str, Any]:
    """What the train rule of an sg2 variant reads: pSp codes, G/ArcFace/LPIPS; `train` (this variant) + `stylegan2`."""
    t = {k: v for k, v in cfg["train"].items() if k != "variants"}
    return {"inputs": {"latents": str(latents_dir(cfg, "psp") / "index.parquet")},
            "select_inputs": [str(baseline_dir(cfg, "psp") / "frames.parquet")],  # E_i codes of the validation frames
            "weights": ["sg2:generator", "sg2:arcface", f"lpips_{cfg['train'].get('lpips_net', 'alex')}"],
            "params": {"train": {**t, "variants": {method.variant: cfg["train"]["variants"].get(method.variant)}},
                       "stylegan2": cfg["stylegan2"]}}


def pretrained_rule(cfg: Mapping[str, Any], method: Any) -> dict[str, Any]:
    """What evaluating ``sg2-thesis-released`` reads: its best_model.pt, ReStyle-pSp (E_i) and the stored codes."""
    return {"inputs": [f"{cfg['paths']['data']}/baseline/psp/frames.parquet"],
            "weights": [_registry_weight(method), "sg2:restyle_psp"], "params": {"stylegan2": cfg["stylegan2"]}}


def _registry_weight(method: Any) -> str:
    from petra.generators import generator  # the registry: which weight file this method is

    return generator(method.generator).weights_of[method.variant]
