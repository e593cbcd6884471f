"""Head-pose evaluators for the pose MAE: HopeNet (thesis) or the mesh fit (offline).

Both come from the mesh helper's :mod:`petra.geometry.headpose` (one sign convention:
yaw > 0 nose toward image right, pitch > 0 up, roll > 0 counter-clockwise); this
module only adapts them to one call: RGB crop → (yaw, pitch, roll) degrees or None.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
from petra.errors import InputError


class PoseEvaluator(Protocol):
    backend: str

    def __call__(self, rgb: np.ndarray) -> tuple[float, float, float] | None:
        """rgb: [H, W, 3] uint8 → (yaw, pitch, roll) in degrees, or None (no face)."""


class HeadPose:
    def __init__(self, backend: str, cfg: Mapping[str, Any]) -> None:
        if backend == "hopenet":
            from petra import weights
            from petra.geometry.headpose import HopeNetPoseEstimator

            # MissingWeightsError names the file, its URL and sha256 when it is absent
            path, sha = weights.require(cfg, "hopenet", with_sha=True)
            self._est = HopeNetPoseEstimator(str(path), sha256=sha)
        else:
            from petra.geometry.headpose import get_head_pose_estimator

            self._est = get_head_pose_estimator(backend)
        self.backend = backend

    def __call__(self, rgb: np.ndarray) -> tuple[float, float, float] | None:

        try:
            pose = self._est.estimate(rgb)
        except InputError:  # NoFaceError: a missing value, not a failed job
            return None
        return float(pose.yaw), float(pose.pitch), float(pose.roll)


def create(backend: str, cfg: Mapping[str, Any]) -> PoseEvaluator:
    if backend not in ("mesh", "hopenet"):
        raise ValueError(f"unknown pose backend {backend!r}")
    return HeadPose(backend, cfg)
