"""The shared loop's options: what every trained method's run reads from params (no torch here,
so the Snakemake rules can list these keys when they build the DAG)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TrainOptions:
    """One variant's training options (``train`` params merged with ``train.variants[v]``)."""

    variant: str                    # e.g. "ours", "ours-cos", "ours-gen", "ours-text"
    steps: int = 500_000            # optimiser steps in total (released code; thesis text 100k)
    batch_size: int = 4             # per process (released code; thesis text 8)
    lr: float = 1e-4                # released code (thesis text 1e-5)
    optimizer: str = "ranger"       # ranger | adam
    gradient_centralization: bool = True  # ranger: GC as the released code's Ranger 20.4.11
    sampling: str = "released"      # released | distinct (petra.train.sampler)
    selection: str = "val_loss"     # val_loss: keep the best total validation loss | metrics (petra select)
    seed: int = 0                   # sampler and init seed
    resolution: int | None = None   # crops are resized to this (None: manifest size)
    tick_steps: int = 100           # status line + metrics every this many steps
    val_steps: int = 1000           # validation interval (released code)
    val_batches: int | None = 4     # fixed val batches per validation; None: the whole val split once
    checkpoint_steps: int = 5000    # snapshot interval (and at the end)
    device: str = "auto"            # auto | cpu | cuda
    extra: Mapping[str, Any] = field(default_factory=dict)  # recipe-specific keys

    @classmethod
    def from_params(cls, p: Mapping[str, Any]) -> TrainOptions:
        names = {f for f in cls.__dataclass_fields__ if f != "extra"}
        known = {k: p[k] for k in names if k in p}
        return cls(**known, extra={k: v for k, v in p.items() if k not in names})


LOOP_KEYS: tuple[str, ...] = tuple(f for f in TrainOptions.__dataclass_fields__ if f not in ("extra", "variant"))
