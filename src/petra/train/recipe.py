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
  DistributedDataParallel;
* ``init`` (optional): the checkpoint file the parts started from, if any; only such a
  recipe can run ``steps: 0`` (a check of that file, :mod:`petra.train.loop`).

Each generator package builds its own recipe (its ``prepare_training`` hook, see
:mod:`petra.generators`); the loop receives it ready-made.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import torch



class Batch(Protocol):
    """What the loop does with a batch: move it to the device (the recipe reads it)."""

    def to(self, device: Any) -> "Batch": ...


class Sampler(Protocol):
    """What the loop calls of a sampler: :class:`~petra.train.sampler.PairSampler` over the manifest,
    or the one a recipe brings with ``make_sampler(split, batch_size, seed)`` (the mesh refinement's
    pair set). Batch ``k`` is a pure function of (seed, k), so a resumed run sees the same batches."""

    @property
    def n_batches(self) -> int:
        """Batches that cover the split once (validation without ``val_batches``)."""
        ...

    def batch(self, step: int) -> Batch: ...


@runtime_checkable
class Recipe(Protocol):
    """One generator's training recipe (see the module docstring for the contract); ``batch`` is
    what the run's :class:`Sampler` gives (a :class:`~petra.train.sampler.PairBatch`, or the
    recipe's own)."""

    def trainable_parameters(self) -> Iterable[torch.nn.Parameter]: ...

    def step(self, batch: Any) -> dict[str, torch.Tensor]: ...

    def validate(self, batch: Any) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, dict[str, Any]]: ...

    def load_state_dict(self, parts: Mapping[str, Mapping[str, Any]]) -> None: ...

    def train(self, mode: bool = True) -> Any: ...

