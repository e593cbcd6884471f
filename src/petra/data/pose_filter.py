"""FFHQ-style pose filter: drop frames whose |yaw| or |pitch| exceeds the limits.

The pose comes from the estimator ``filter.backend`` names (``mesh``: MediaPipe's mesh;
``hopenet``: the thesis's HopeNet, its file from the weight registry, sha256-checked)
run on the aligned crop; which one is never decided by a file happening to exist. Alignment removes the in-plane rotation, so the frame's roll is the
crop's roll plus the alignment's rotation angle.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from petra import weights

from .ffhq import ffhq_quad

def make_estimator(cfg: Mapping[str, Any]):  # -> HeadPoseEstimator
    """The configured estimator; ``hopenet`` raises MissingWeightsError (naming the file, its URL and
    the rule) when the weights are absent and PetraError when their sha256 differs from the registry's."""
    from petra.geometry.headpose import HopeNetPoseEstimator, MeshPoseEstimator  # lazy: mediapipe / torch

    if cfg["filter"]["backend"] == "mesh":
        return MeshPoseEstimator()
    given = cfg["filter"].get("hopenet_weights")
    path, sha = (Path(given), weights.entry("hopenet").sha256) if given else weights.require(cfg, "hopenet", with_sha=True)
    return HopeNetPoseEstimator(str(path), sha256=sha)


def alignment_roll(landmarks_src: np.ndarray) -> float:
    """Degrees the face's eye line is turned counter-clockwise in the frame (y axis down)."""
    c = ffhq_quad(landmarks_src).corners
    v = c[3] - c[0]  # UL → UR: the face's horizontal axis in the frame
    return math.degrees(math.atan2(-v[1], v[0]))


def pose_reject_reason(yaw: float, pitch: float, max_yaw: float, max_pitch: float) -> str | None:
    """Why a pose is too extreme to keep, or None (NaN poses are rejected too)."""
    if not (math.isfinite(yaw) and math.isfinite(pitch)):
        return "pose not estimated"
    if abs(yaw) > max_yaw:
        return f"extreme yaw (|yaw| > {max_yaw:g} deg)"
    if abs(pitch) > max_pitch:
        return f"extreme pitch (|pitch| > {max_pitch:g} deg)"
    return None
