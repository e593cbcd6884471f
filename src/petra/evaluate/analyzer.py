"""One object that runs every configured evaluator on a crop, with a content cache.

Each method job analyses the same driving frames and targets; reference rows even
output them unchanged (copy-driving), so features are cached by the image bytes.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from petra.config import build
from petra.params import EvaluateBackends

from . import action_units, identity, landmarks, pose
from .ratios import RATIO_NAMES, landmark_ratios


@dataclass(frozen=True)
class Features:
    """What the evaluators saw in one crop; any part is None when it failed."""

    pose: tuple[float, float, float] | None   # yaw, pitch, roll (degrees)
    landmarks: np.ndarray | None              # [68, 2] crop pixels
    ratios: np.ndarray | None                 # [5] in RATIO_NAMES order
    au: np.ndarray | None                     # [len(au_names)]
    embedding: np.ndarray | None              # [D], unit norm


Backends = EvaluateBackends  # ``evaluate.backends`` (petra.params): the backend names become column suffixes


def configured_backends(cfg: Mapping[str, Any]) -> Backends:
    """The typed ``evaluate.backends`` of ``cfg`` (a missing key: params.yaml's value)."""
    return build(Backends, (cfg.get("evaluate") or {}).get("backends"))


class Analyzer:
    def __init__(self, cfg: Mapping[str, Any], backends: Backends | None = None) -> None:
        self.backends = backends or configured_backends(cfg)
        b = self.backends
        self.pose = pose.create(b.pose, cfg)
        self.landmarks = landmarks.create(b.landmarks, cfg)
        self.identity = identity.create(b.identity, cfg)
        self.au = action_units.create(b.au, cfg)
        self.ratio_names = RATIO_NAMES
        self.au_names: tuple[str, ...] = self.au.names if self.au is not None else ()
        self._cache: dict[bytes, Features] = {}

    @staticmethod
    def key(rgb: np.ndarray) -> bytes:
        """The cache key of a crop: its content and shape."""
        return hashlib.blake2b(np.ascontiguousarray(rgb).tobytes(), digest_size=16).digest() + str(rgb.shape).encode()

    def cached(self, key: bytes) -> Features:
        return self._cache[key]

    def remember(self, key: bytes, features: Features) -> None:
        """Seed the cache (features measured by another process: petra.evaluate.features)."""
        self._cache[key] = features

    def __call__(self, rgb: np.ndarray) -> Features:
        key = self.key(rgb)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._analyse(rgb)
        return hit

    def _analyse(self, rgb: np.ndarray) -> Features:
        lm = self.landmarks(rgb)
        return Features(
            pose=self.pose(rgb),
            landmarks=lm,
            ratios=None if lm is None else landmark_ratios(lm),
            au=None if self.au is None else self.au(rgb, lm),
            embedding=self.identity(rgb, lm),
        )
