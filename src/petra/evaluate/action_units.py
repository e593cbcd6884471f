"""Action-unit evaluators: OpenGraphAU (the thesis's FAU-CORR) or a named substitute.

OpenGraphAU's weights cannot be fetched offline; the offline profile then uses
``geom``: four landmark-geometry AU proxies (petra.evaluate.ratios.geometric_au),
reported as ``geom_au_corr_<landmarks>`` — never as ``fau_corr``. ``none`` leaves
the column out.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from .ratios import GEOM_AU_NAMES, geometric_au


class AUEvaluator(Protocol):
    backend: str
    names: tuple[str, ...]

    def __call__(self, rgb: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray | None:
        """→ [len(names)] activations (probabilities for OpenGraphAU), or None."""


class GeometricAU:
    backend = "geom"
    names = GEOM_AU_NAMES

    def __call__(self, rgb: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray | None:
        return None if landmarks is None else geometric_au(landmarks)


class OpenGraphAU:
    """OpenGraphAU (Luo et al. 2022, ResNet-50 stage 2, 41 AUs): weights through the registry."""

    backend = "opengraphau"

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        from petra import weights

        # Raises MissingWeightsError with the URL and sha256 when the file is absent.
        self.path, self.sha256 = weights.require(cfg, "opengraphau", with_sha=True)
        from petra.errors import PetraError

        raise PetraError(f"{self.path}: the OpenGraphAU network (MEFARG ResNet-50) is not ported to petra yet; "
                         "set evaluate.backends.au to geom (landmark-geometry substitute) or none")


def create(backend: str, cfg: Mapping[str, Any]) -> AUEvaluator | None:
    if backend == "none":
        return None
    if backend == "geom":
        return GeometricAU()
    if backend == "opengraphau":
        return OpenGraphAU(cfg)
    raise ValueError(f"unknown action-unit backend {backend!r}")
