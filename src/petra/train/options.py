"""The shared loop's options: what every trained method's run reads from params (no torch here,
so the Snakemake rules can list these keys when they build the DAG)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

from petra.config import build


@dataclass(frozen=True)
class TrainOptions:
    """One variant's loop options: the ``train`` keys the loop reads, from a run's params (``train``
    merged with the variant; a mesh run: with ``train_mesh.train`` too). Values: params.yaml."""

    SECTION: ClassVar[str] = "train"  # where the keys live (a missing one takes its value there)
    variant: str                    # e.g. "ours", "ours-cos", "ours-gen", "ours-text" (no params key)
    steps: int                      # optimiser steps in total
    batch_size: int                 # per process
    lr: float
    optimizer: Literal["ranger", "adam"]
    gradient_centralization: bool   # ranger: GC as the released code's Ranger 20.4.11
    sampling: Literal["released", "distinct"]  # petra.train.sampler
    selection: Literal["val_loss", "metrics"]  # val_loss: keep the best total validation loss | metrics (petra select)
    seed: int                       # sampler and init seed
    resolution: int | None          # crops are resized to this (None: manifest size)
    tick_steps: int                 # status line + metrics every this many steps
    val_steps: int                  # validation interval
    val_batches: int | None         # fixed val batches per validation; None: the whole val split once
    checkpoint_steps: int           # snapshot interval (and at the end)
    device: str                     # auto | cpu | cuda

    @classmethod
    def from_params(cls, p: Mapping[str, Any]) -> TrainOptions:
        """The loop keys of a run's params (typed and checked); its other keys belong to the recipe."""
        return build(cls, {k: p[k] for k in (f.name for f in fields(cls)) if k in p})


LOOP_KEYS: tuple[str, ...] = tuple(f.name for f in fields(TrainOptions) if f.name != "variant")
