"""The generator-agnostic training contract: a :class:`Recipe` per generator.

``g = G(M(E_m(s) ⊕ E_i(t)), t)``: a recipe owns the parts (E_m, M, frozen E_i and
G, the loss networks) and knows how to compute the named loss terms of one
:class:`~petra.train.sampler.PairBatch`. The loop (:mod:`petra.train.loop`) only
loops: it never looks inside a recipe.

A recipe provides

* ``trainable_parameters()`` → the parameters the optimiser updates (E_m and M;
  plus G's for the ``gen`` variants);
* ``step(batch) -> dict[str, Tensor]``: named scalar loss terms including
  ``'total'`` (the loop calls ``total.backward()``); runs in train mode;
* ``validate(batch) -> dict[str, float]``: the same terms without gradients
  (eval mode), as floats;
* ``state_dict() -> dict[str, dict]``: named parts (``{'E_m': ..., 'M': ...}``),
  each a module state dict; ``load_state_dict(parts)`` restores them;
* ``train(mode)`` switches the trainable parts between train and eval mode;
* ``wrap_ddp(device_ids)`` (optional) wraps trainable modules for
  DistributedDataParallel.

Recipes are registered by ``generator.name`` as ``"module:function"`` builders
``build(cfg, train_params, device) -> Recipe``; the mesh generator's recipe adds
itself to :data:`RECIPES`.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import torch

from .sampler import PairBatch

# generator name -> "module:function" builder(cfg, train_params, device) -> Recipe
RECIPES: dict[str, str] = {
    "stylegan2": "petra.train.stylegan2_recipe:build",
    "mesh": "petra.train.mesh_recipe:build",
}

# generator name -> prefix of its method names (REGISTRY keys: "<prefix>-<variant>")
METHOD_PREFIX: dict[str, str] = {"stylegan2": "sg2", "mesh": "mesh"}


@runtime_checkable
class Recipe(Protocol):
    """One generator's training recipe (see the module docstring for the contract)."""

    def trainable_parameters(self) -> Iterable[torch.nn.Parameter]: ...

    def step(self, batch: PairBatch) -> dict[str, torch.Tensor]: ...

    def validate(self, batch: PairBatch) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, dict[str, Any]]: ...

    def load_state_dict(self, parts: Mapping[str, Mapping[str, Any]]) -> None: ...

    def train(self, mode: bool = True) -> Any: ...


def build_recipe(cfg: Mapping[str, Any], train_params: Mapping[str, Any], device: str | torch.device = "cpu") -> Recipe:
    """Build the recipe of ``cfg['generator']['name']`` for one variant's train params."""
    name = cfg["generator"]["name"]
    if name not in RECIPES:
        raise KeyError(f"no training recipe for generator {name!r}; known: {sorted(RECIPES)}")
    module, func = RECIPES[name].split(":")
    return getattr(importlib.import_module(module), func)(cfg, train_params, device)


def method_name(cfg: Mapping[str, Any], variant: str) -> str:
    """The method (REGISTRY key, models/ folder, results row) of a variant: e.g. ``sg2-ours``."""
    return f"{METHOD_PREFIX[cfg['generator']['name']]}-{variant}"


def variant_params(cfg: Mapping[str, Any], variant: str) -> dict[str, Any]:
    """``train`` params with ``train.variants[variant]`` deep-merged over them."""
    from ..config import deep_merge

    train = dict(cfg["train"])
    variants = train.pop("variants", {}) or {}
    if variant not in variants:
        from ..errors import PetraError

        raise PetraError(f"params: unknown variant {variant!r}; train.variants has {sorted(variants)}")
    out = deep_merge(train, variants[variant] or {})
    out["variant"] = variant
    return out
