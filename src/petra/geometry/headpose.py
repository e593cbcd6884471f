"""Head pose (yaw, pitch, roll) behind one interface, for the pose filter and evaluation.

Backends:

- ``mesh`` (offline, always available): MediaPipe's 478-point mesh, rigidly fitted
  to MediaPipe's canonical face (:func:`petra.geometry.frame.fit_similarity`);
- ``hopenet``: the HopeNet network (``petra.models.hopenet``), when its weight file
  exists;
- ``auto``: hopenet when its weights are on disk, else mesh.

Sign convention (all backends return it): degrees; **yaw > 0** when the face turns
toward the image's right (nose pointing right), **pitch > 0** when it looks up,
**roll > 0** when the head tilts counter-clockwise in the image. A horizontal flip
of the image negates yaw and roll and keeps pitch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import MissingWeightsError
from .facemesh import FaceMesh
from .frame import fit_similarity


@dataclass(frozen=True)
class HeadPose:
    """Head orientation in degrees (see the module docstring for the signs)."""

    yaw: float
    pitch: float
    roll: float
    backend: str = ""

    def flipped(self) -> "HeadPose":
        """The pose of the horizontally mirrored image."""
        return HeadPose(-self.yaw, self.pitch, -self.roll, self.backend)


@runtime_checkable
class HeadPoseEstimator(Protocol):
    """Anything that maps an RGB uint8 image with one face to its HeadPose."""

    name: str

    def estimate(self, rgb: np.ndarray) -> HeadPose:
        """Pose of the main face; raises NoFaceError when there is none."""


class MeshPoseEstimator:
    """Pose from a rigid fit of the MediaPipe mesh to the canonical face (offline)."""

    name = "mesh"

    def __init__(self) -> None:
        self._fm: FaceMesh | None = None

    def estimate(self, rgb: np.ndarray) -> HeadPose:
        if self._fm is None:
            self._fm = FaceMesh(static=True)
        return pose_from_mesh(self._fm.detect(rgb))


def pose_from_mesh(points: np.ndarray) -> HeadPose:
    """HeadPose of a face mesh given in image pixels ([478 or 468, 3])."""
    yaw, pitch, roll = fit_similarity(points).euler()
    return HeadPose(yaw, pitch, roll, "mesh")


class HopeNetPoseEstimator:
    """Head-pose backend ``hopenet``: aligned RGB face crop → HeadPose (degrees).

    Conforms to :mod:`petra.geometry.headpose` (``estimate(rgb) -> HeadPose``). HopeNet's
    own signs (300W-LP; read from deep-head-pose ``utils.plot_pose_cube``/``draw_axis``,
    which draws the nose axis at ``sin(-yaw)`` and the face x-axis dipping by
    ``sin(roll)`` with y down) are: yaw > 0 = nose toward the image's left, roll > 0 =
    clockwise tilt, pitch > 0 = looking up. petra's convention flips yaw and roll, so
    :meth:`estimate` returns ``(-yaw, pitch, -roll)``; :meth:`angles` gives the raw values.
    """

    name = "hopenet"

    def __init__(self, weights_path: str, sha256: str | None = None, model: Any = None) -> None:
        from petra.models.hopenet import load_hopenet  # lazy: torch only for this backend

        self.model = model if model is not None else load_hopenet(str(weights_path), sha256=sha256)
        self.model.eval()

    def angles(self, rgb: np.ndarray) -> tuple[float, float, float]:
        """Raw HopeNet (yaw, pitch, roll) in degrees, official preprocessing."""
        from petra.models.hopenet import hopenet_angles  # lazy: torch only for this backend

        return hopenet_angles(self.model, rgb)

    def estimate(self, rgb: np.ndarray) -> HeadPose:
        """HeadPose in petra's sign convention (see the class docstring)."""
        yaw, pitch, roll = self.angles(rgb)
        return HeadPose(yaw=-yaw, pitch=pitch, roll=-roll, backend=self.name)

    __call__ = estimate


def get_head_pose_estimator(backend: str = "auto", hopenet_weights: str | Path | None = None) -> HeadPoseEstimator:
    """Build a pose estimator by name (``auto`` | ``mesh`` | ``hopenet``).

    ``hopenet`` raises MissingWeightsError when ``hopenet_weights`` is not a file;
    ``auto`` silently falls back to ``mesh`` in that case.
    """
    if backend == "mesh":
        return MeshPoseEstimator()
    has_weights = hopenet_weights is not None and Path(hopenet_weights).is_file()
    if backend == "hopenet" or (backend == "auto" and has_weights):
        if not has_weights:
            raise MissingWeightsError(
                f"{hopenet_weights or '<no path>'}: HopeNet weights not found "
                "(hopenet_robust_alpha1.pkl from natanielruiz/deep-head-pose); use backend 'mesh'"
            )
        return HopeNetPoseEstimator(str(hopenet_weights))
    if backend == "auto":
        return MeshPoseEstimator()
    raise ValueError(f"unknown head-pose backend {backend!r}; use auto, mesh or hopenet")
