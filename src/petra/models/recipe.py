"""Deterministic synthetic weights: the recipe of ../shared/fixtures, written once.

The numerical fixtures were produced by running the official code with weights made
by this recipe, so rebuilding them here lets a test load the same numbers into petra's
modules by the official key names (strict=True) and compare outputs. The smoke
profile uses the same recipe for its tiny random-weight StyleGAN2 path, so its
images are reproducible without any download.

Recipe (see fixtures/README.md): walk ``sorted(state_dict)`` with index ``i``; each
key gets a fresh ``torch.Generator().manual_seed(1000 + i)`` and one draw; model-
specific regex overrides (first match wins) come before the base rules.
"""
from __future__ import annotations


import math
import re
from collections.abc import Mapping, Sequence

import torch

from petra.safeload import state_dict_sha256  # noqa: F401  (re-exported for the fixture tests)

# StyleGAN2 overrides, in order; "keep" leaves the constructor value (FIR kernels).
STYLEGAN2_OVERRIDES: tuple[tuple[str, str], ...] = (
    (r"\.kernel$", "keep"),
    (r"(^|\.)style\.\d+\.weight$", "randn*100"),
    (r"\.modulation\.bias$", "1+0.1randn"),
    (r"\.noise\.weight$", "0.1randn"),
    (r"(\.conv\.weight|\.modulation\.weight|(^|\.)input\.input|(^|\.)noises\.noise_\d+)$", "randn"),
)


def _draw(rule: str, shape: Sequence[int], g: torch.Generator) -> torch.Tensor:
    if rule == "randn*100":
        return 0.0 + 100.0 * torch.randn(shape, generator=g)
    if rule == "1+0.1randn":
        return 1.0 + 0.1 * torch.randn(shape, generator=g)
    if rule == "0.1randn":
        return 0.0 + 0.1 * torch.randn(shape, generator=g)
    if rule == "randn":
        return 0.0 + 1.0 * torch.randn(shape, generator=g)
    raise ValueError(rule)


def _base(key: str, t: torch.Tensor, g: torch.Generator) -> torch.Tensor | None:
    shape = tuple(t.shape)
    if key.endswith("num_batches_tracked"):
        return None
    if key.endswith("running_var"):
        return 1.0 + 0.1 * torch.rand(shape, generator=g)
    if key.endswith("running_mean"):
        return 0.1 * torch.randn(shape, generator=g)
    if t.dim() <= 1 and key.endswith(".weight"):
        return 1.0 + 0.1 * torch.randn(shape, generator=g)
    if t.dim() <= 1:
        return 0.1 * torch.randn(shape, generator=g)
    fan_in = math.prod(shape[1:])
    return torch.randn(shape, generator=g) * (1.0 / math.sqrt(fan_in))


def recipe_state_dict(
    template: Mapping[str, torch.Tensor],
    overrides: Sequence[tuple[str, str]] = (),
    seed_base: int = 1000,
) -> dict[str, torch.Tensor]:
    """Fill a copy of ``template`` (a state_dict) by the fixture recipe.

    ``overrides``: (regex, rule) pairs tried with ``re.search`` before the base rules;
    for a combined ReStyle state_dict pass :data:`STYLEGAN2_OVERRIDES` (its regexes
    only match decoder keys).
    """
    out: dict[str, torch.Tensor] = {}
    for i, key in enumerate(sorted(template)):
        t = template[key].detach().clone()
        g = torch.Generator().manual_seed(seed_base + i)
        rule = next((r for pat, r in overrides if re.search(pat, key)), None)
        if rule == "keep":
            value = None
        elif rule is not None:
            value = _draw(rule, tuple(t.shape), g)
        else:
            value = _base(key, t, g)
        if value is not None:
            t.copy_(value.to(t.dtype))
        out[key] = t
    return out


def fill_module(module: torch.nn.Module, overrides: Sequence[tuple[str, str]] = ()) -> torch.nn.Module:
    """Load recipe weights into ``module`` by its own key names (strict)."""
    module.load_state_dict(recipe_state_dict(module.state_dict(), overrides), strict=True)
    return module


def checksums(sd: Mapping[str, torch.Tensor]) -> dict[str, tuple[float, float]]:
    """Per-key (float64 sum, first element), as stored in ``weight_checksums_sum_first``."""
    return {k: (float(v.double().sum()), float(v.reshape(-1)[0])) for k, v in sd.items()}

