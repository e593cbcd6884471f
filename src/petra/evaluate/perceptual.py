"""LPIPS for self-reenactment, through the model-zoo helper's loader (real weights)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


class Lpips:
    """LPIPS v0.1 distance between two RGB uint8 crops (images scaled to [-1, 1])."""

    def __init__(self, net: str = "alex", cfg: Mapping[str, Any] | None = None) -> None:
        import torch

        from petra.zoo import load_lpips  # lazy: torch; MissingWeightsError: run `petra weights --offline-assets`

        self._torch = torch
        self.net = net
        self._model = load_lpips(cfg, net)

    def _t(self, rgb: np.ndarray) -> torch.Tensor:  # noqa: F821
        return self._torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 127.5 - 1.0

    def __call__(self, a: np.ndarray, b: np.ndarray) -> float:
        with self._torch.no_grad():
            return float(self._model(self._t(a), self._t(b)).reshape(-1)[0])
