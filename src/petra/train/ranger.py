"""Ranger with gradient centralisation: the optimiser bundled with the thesis's released code.

The released ``training/ranger.py`` is Ranger 20.4.11: RAdam + Lookahead (k=6, alpha=0.5)
as in ``pytorch-ranger`` (9.3.19), plus gradient centralisation (GC, Yong et al. 2020) on
every parameter with more than one dimension (``use_gc=True, gc_conv_only=False``): the
gradient of each output row (dim 0) has its mean over the other dims subtracted before
the moments are updated. :class:`RangerGC` adds exactly that step in front of
``pytorch_ranger.Ranger.step``; ``gc_conv_only=True`` restricts it to conv kernels (dim > 3).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from pytorch_ranger import Ranger


def centralize_gradient(grad: torch.Tensor) -> None:
    """Subtract, in place, the mean over all dims but the first (one mean per output row)."""
    grad.sub_(grad.mean(dim=tuple(range(1, grad.dim())), keepdim=True))


class RangerGC(Ranger):
    """``pytorch_ranger.Ranger`` (same defaults: betas (0.95, 0.999), eps 1e-5) + gradient centralisation."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, use_gc: bool = True, gc_conv_only: bool = False,
                 **kw: Any) -> None:
        super().__init__(params, lr=lr, **kw)
        self.use_gc = use_gc
        self.gc_min_dim = 4 if gc_conv_only else 2

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        if self.use_gc:
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None and p.grad.dim() >= self.gc_min_dim:
                        centralize_gradient(p.grad)
        return super().step(closure)
