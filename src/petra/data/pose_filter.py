"""FFHQ-style pose filter: drop frames whose |yaw| or |pitch| exceeds the limits.

The pose comes from :func:`petra.geometry.headpose.get_head_pose_estimator` (HopeNet
when its weight file exists, the MediaPipe-mesh estimator otherwise) run on the
aligned crop. Alignment removes the in-plane rotation, so the frame's roll is the
crop's roll plus the alignment's rotation angle.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .ffhq import ffhq_quad

HOPENET_FILE = "hopenet_robust_alpha1.pkl"


def hopenet_path(cfg: Mapping[str, Any]) -> Path:
    """Configured HopeNet weights, else ``<paths.models>/weights/hopenet_robust_alpha1.pkl``."""
    p = cfg["filter"].get("hopenet_weights")
    return Path(p) if p else Path(cfg["paths"]["models"]) / "weights" / HOPENET_FILE


def make_estimator(cfg: Mapping[str, Any]):  # -> HeadPoseEstimator
    from ..geometry.headpose import get_head_pose_estimator

    return get_head_pose_estimator(cfg["filter"]["backend"], hopenet_weights=hopenet_path(cfg))


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
