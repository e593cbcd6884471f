"""The five landmark ratios behind FL-CORR, from dlib-68 points (pure array maths).

Ratios (not raw coordinates) are compared because they are invariant to the face's
position, scale and in-plane rotation, so a driving frame and an output of another
identity can be compared directly: only how open the eyes and mouth are and how
raised the brows are remains.  Point numbering is dlib/iBUG-68, 0-based.
"""
from __future__ import annotations

import numpy as np

RATIO_NAMES = ("ear_right", "ear_left", "mar", "ber_right", "ber_left")

_RIGHT_EYE = np.arange(36, 42)   # the subject's right eye (image left)
_LEFT_EYE = np.arange(42, 48)
_RIGHT_BROW = np.arange(17, 22)
_LEFT_BROW = np.arange(22, 27)


def _d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1)


def eye_aspect_ratio(eye: np.ndarray) -> np.ndarray:
    """Soukupová & Čech (2016): (|p2−p6| + |p3−p5|) / (2 |p1−p4|); eye: [..., 6, 2]."""
    p = [eye[..., i, :] for i in range(6)]
    return (_d(p[1], p[5]) + _d(p[2], p[4])) / (2.0 * _d(p[0], p[3]))


def mouth_aspect_ratio(lm: np.ndarray) -> np.ndarray:
    """Inner-lip opening over inner-lip width: (|61−67|+|62−66|+|63−65|) / (3 |60−64|)."""
    v = _d(lm[..., 61, :], lm[..., 67, :]) + _d(lm[..., 62, :], lm[..., 66, :]) + _d(lm[..., 63, :], lm[..., 65, :])
    return v / (3.0 * _d(lm[..., 60, :], lm[..., 64, :]))


def brow_eye_ratio(brow: np.ndarray, eye: np.ndarray) -> np.ndarray:
    """Distance from the brow's centroid to the eye's centroid over the eye width."""
    return _d(brow.mean(axis=-2), eye.mean(axis=-2)) / _d(eye[..., 0, :], eye[..., 3, :])


def landmark_ratios(landmarks: np.ndarray) -> np.ndarray:
    """The five ratios in :data:`RATIO_NAMES` order.

    landmarks: [..., 68, 2] (or [..., 136] flattened x,y) → [..., 5] float64.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape[-1] == 136:
        lm = lm.reshape(*lm.shape[:-1], 68, 2)
    if lm.shape[-2:] != (68, 2):
        raise ValueError(f"expected [..., 68, 2] landmarks, got {lm.shape}")
    return np.stack(
        [
            eye_aspect_ratio(lm[..., _RIGHT_EYE, :]),
            eye_aspect_ratio(lm[..., _LEFT_EYE, :]),
            mouth_aspect_ratio(lm),
            brow_eye_ratio(lm[..., _RIGHT_BROW, :], lm[..., _RIGHT_EYE, :]),
            brow_eye_ratio(lm[..., _LEFT_BROW, :], lm[..., _LEFT_EYE, :]),
        ],
        axis=-1,
    )


# --- landmark-geometry action-unit proxies (the offline FAU substitute) ---------------
GEOM_AU_NAMES = ("au04_brow_lower", "au12_lip_corner", "au26_jaw_drop", "au45_blink")


def geometric_au(landmarks: np.ndarray) -> np.ndarray:
    """Landmark-geometry proxies of four action units, each scale-free: [..., 68, 2] → [..., 4].

    Not AU probabilities and never reported as FAU-CORR: AU4 ≈ minus the inner-brow
    gap, AU12 ≈ mouth-corner width, AU26 ≈ nose-to-chin length (each over the
    inter-ocular distance), AU45 ≈ minus the mean eye aspect ratio.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape[-1] == 136:
        lm = lm.reshape(*lm.shape[:-1], 68, 2)
    iod = _d(lm[..., _RIGHT_EYE, :].mean(axis=-2), lm[..., _LEFT_EYE, :].mean(axis=-2))
    ear = 0.5 * (eye_aspect_ratio(lm[..., _RIGHT_EYE, :]) + eye_aspect_ratio(lm[..., _LEFT_EYE, :]))
    return np.stack(
        [
            -_d(lm[..., 21, :], lm[..., 22, :]) / iod,
            _d(lm[..., 48, :], lm[..., 54, :]) / iod,
            _d(lm[..., 33, :], lm[..., 8, :]) / iod,
            -ear,
        ],
        axis=-1,
    )
