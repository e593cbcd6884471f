"""Action-unit evaluators: OpenGraphAU (the thesis's FAU-CORR) or a named substitute.

``opengraphau``: the stage-1 network of :mod:`petra.models.opengraphau` (41 AU
probabilities, backbone from ``evaluate.opengraphau.backbone``) from the weight registry,
or the smoke profile's random-weight file → ``fau_corr_opengraphau``. Its weights cannot
be fetched offline; the offline profile then uses ``geom``: four landmark-geometry AU
proxies (petra.evaluate.ratios.geometric_au), reported as ``geom_au_corr_<landmarks>`` —
never as ``fau_corr``. ``none`` leaves the column out.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from petra.models.au_labels import AU_CODES

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


OPENGRAPHAU_NAMES: tuple[str, ...] = tuple(code.lower() for code in AU_CODES)  # column stems: au1_drv_opengraphau …


class OpenGraphAU:
    """OpenGraphAU stage 1 (Luo et al. 2022, 41 AUs) on the aligned crop, official preprocessing."""

    backend = "opengraphau"
    names = OPENGRAPHAU_NAMES

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        from petra.models.opengraphau import OpenGraphAUPredictor, load_opengraphau
        from petra.zoo import opengraphau_backbone, weight_file

        # MissingWeightsError names the file, its URL and the rules that need it when absent
        self.path, sha256 = weight_file(cfg, "opengraphau")
        self._predict = OpenGraphAUPredictor(load_opengraphau(str(self.path), sha256, opengraphau_backbone(cfg)))

    def __call__(self, rgb: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray | None:
        return self._predict(rgb)


def create(backend: str, cfg: Mapping[str, Any]) -> AUEvaluator | None:
    if backend == "none":
        return None
    if backend == "geom":
        return GeometricAU()
    if backend == "opengraphau":
        return OpenGraphAU(cfg)
    raise ValueError(f"unknown action-unit backend {backend!r}")
