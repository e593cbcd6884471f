"""The canonical face frame: a rigid similarity fit of a mesh to the canonical face.

Conventions (used by every petra pose number):

- *camera frame*: image pixels turned right-handed with y up: ``(x, -y, -z)`` of
  the MediaPipe points (x right, y up, z toward the camera). This is a proper
  rotation of the image frame, so fits never need reflections.
- a fit is ``camera = scale * R @ canonical + t`` (orthographic: MediaPipe's z is a
  relative depth at the scale of x).
- Euler angles, degrees, ``R = Rz(roll) @ Ry(yaw) @ Rx(-pitch)``:

  * **yaw > 0**: the face turns toward the image's right (the subject turns to
    their left; the nose points right);
  * **pitch > 0**: the face looks up;
  * **roll > 0**: the head tilts counter-clockwise as seen in the image.

  Flipping an image horizontally negates yaw and roll and keeps pitch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .canonical import N_MESH, canonical_face

# image (x right, y down, z away) -> camera (x right, y up, z toward the viewer)
FLIP_YZ = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class Similarity:
    """``camera = scale * rotation @ canonical + translation`` (camera frame, pixels)."""

    scale: float
    rotation: np.ndarray     # [3, 3], det +1
    translation: np.ndarray  # [3]

    def to_image(self, canon: np.ndarray) -> np.ndarray:
        """Canonical points [N, 3] -> image points [N, 3] (x, y px; z px, smaller = closer)."""
        cam = self.scale * canon @ self.rotation.T + self.translation
        return cam @ FLIP_YZ

    def to_canonical(self, img_pts: np.ndarray) -> np.ndarray:
        """Image points [N, 3] -> canonical frame [N, 3] (the inverse of :meth:`to_image`)."""
        cam = img_pts @ FLIP_YZ
        return (cam - self.translation) @ self.rotation / self.scale

    def euler(self) -> tuple[float, float, float]:
        """(yaw, pitch, roll) in degrees, see the module docstring."""
        return rotation_to_euler(self.rotation)


def umeyama(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity ``dst ~ s R src + t`` (Umeyama 1991), R proper.

    src, dst: [N, 3]; weights: [N] or None. Returns (s, R [3, 3], t [3]).
    """
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_s = w @ src
    mu_d = w @ dst
    xs = src - mu_s
    xd = dst - mu_d
    cov = (xd * w[:, None]).T @ xs
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rot = (u * sign) @ vt
    var_s = (w * (xs**2).sum(1)).sum()
    scale = float((d * sign).sum() / var_s)
    t = mu_d - scale * rot @ mu_s
    return scale, rot, t


def fit_similarity(img_pts: np.ndarray, robust_iters: int = 2) -> Similarity:
    """Fit the canonical face's rigid points to a mesh (image pixels [>=468, 3]).

    Only the upper face and nose enter the fit, so talking and smiling do not move the
    pose; a couple of reweighting passes (Cauchy weights on the residual) damp outliers.
    """
    cf = canonical_face()
    idx = cf.rigid
    src = cf.vertices[idx]
    dst = img_pts[idx] @ FLIP_YZ
    w = np.ones(len(idx))
    for _ in range(robust_iters + 1):
        s, r, t = umeyama(src, dst, w)
        res = np.linalg.norm(s * src @ r.T + t - dst, axis=1) / s  # cm
        w = 1.0 / (1.0 + (res / 0.3) ** 2)
    return Similarity(s, r, t)


def rotation_to_euler(r: np.ndarray) -> tuple[float, float, float]:
    """R = Rz(roll) Ry(yaw) Rx(-pitch) -> (yaw, pitch, roll) degrees."""
    yaw = np.degrees(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    a = np.degrees(np.arctan2(r[2, 1], r[2, 2]))
    roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    return float(yaw), float(-a), float(roll)


def euler_to_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Inverse of :func:`rotation_to_euler` (degrees in, [3, 3] out)."""
    y, p, r = np.radians([yaw, -pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


def canonical_image_points(sim: Similarity, n: int = N_MESH) -> np.ndarray:
    """The canonical face posed by ``sim``, in image coordinates [n, 3] (n <= 468)."""
    return sim.to_image(canonical_face().vertices[:n])
