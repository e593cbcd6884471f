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

Each generator package builds its own recipe (its ``prepare_training`` hook, see
:mod:`petra.generators`); the loop receives it ready-made.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import torch

from .sampler import PairBatch

@runtime_checkable
class Recipe(Protocol):
    """One generator's training recipe (see the module docstring for the contract)."""

    def trainable_parameters(self) -> Iterable[torch.nn.Parameter]: ...

    def step(self, batch: PairBatch) -> dict[str, torch.Tensor]: ...

    def validate(self, batch: PairBatch) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, dict[str, Any]]: ...

    def load_state_dict(self, parts: Mapping[str, Mapping[str, Any]]) -> None: ...

    def train(self, mode: bool = True) -> Any: ...

