"""The driver, normalised: its neutral face over a clip and its framing motion, bounded.

Users drive with phone and TV clips: the camera zooms and pans, the person leans in,
the clip starts mid-sentence with the mouth open or mid-smile, the face is lost for
a few frames. Two things make the transfer hold up:

- **Neutral reference** (:func:`neutral_face`): the driver's neutral face estimated
  over the whole clip, per region and robustly: the mouth from the frames where the
  lips are closed and least strained (neither smiling nor pursed), each eye from the frames where it is open (not
  blinking) but not at its widest (not surprise), the rest and the head pose from
  medians. Relative mode measures expression against it, not against the first frame.
- **Framing** (:class:`DriverMotion`): motion is measured in a face-centred frame
  (fit to the canonical face: expression and rotation do not depend on where the face
  is or how large it is). Scale and image-plane shift, which a camera zoom or pan
  changes as much as the person does, are passed on only as a smoothed fraction
  (``follow``) and softly clamped later (:func:`soft_clamp`: unchanged up to 70 % of
  the bound), so the target keeps its framing. Aligned driving crops (evaluation,
  training pairs) have had the camera framing removed by the per-frame alignment:
  their residual framing is head motion and is passed on whole, within the bound. A frame without a face holds the last pose; when the face comes back the
  held pose is blended into the new one over ``recover_s`` (no jump).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from .frame import Similarity, euler_to_rotation
from .motion import LIP_INNER_LO, LIP_INNER_UP, FaceParams, _lids, _region_weights, neutral_shape

CLOSED_PCT, CLOSED_TOL = 10.0, 0.15  # neutral mouth: frames whose lip gap is within TOL cm of this percentile
REST_PCT = 20.0             # ... and, of those, the ones whose mouth region is this close to its resting shape
EYE_BAND = (25.0, 75.0)     # neutral eye: frames whose opening is within these percentiles (typical, not blinking)


def mouth_gap(shapes: np.ndarray) -> np.ndarray:
    """Inner-lip gap (canonical cm, 0 = closed) of shapes [..., 478, 3]."""
    return np.mean(shapes[..., LIP_INNER_UP[2:7], 1] - shapes[..., LIP_INNER_LO[2:7], 1], -1)


def mouth_strain(shapes: np.ndarray, identities: np.ndarray) -> np.ndarray:
    """How far each mouth is from the face's resting shape [N]: the RMS displacement of the
    mouth region (soft weights) from the affine neutral estimate, canonical cm. Smiles and
    puckers both raise it; a relaxed closed mouth has the least."""
    w = _region_weights()[:, 3]
    return np.sqrt((((shapes - identities) ** 2).sum(-1) * w).sum(-1) / w.sum())


def eye_gaps(shapes: np.ndarray) -> np.ndarray:
    """[..., 2] mean lid gap of the right and left eye (canonical cm)."""
    up, lo = _lids()
    n = len(up) // 2
    g = shapes[..., up, 1] - shapes[..., lo, 1]
    return np.stack([g[..., :n].mean(-1), g[..., n:].mean(-1)], -1)


def neutral_face(faces: Sequence[FaceParams]) -> FaceParams:
    """The driver's neutral face over a clip (see the module docstring). ``faces``: one per frame."""
    if not faces:
        raise ValueError("neutral_face needs at least one face")
    shapes = np.stack([f.shape for f in faces])  # [N, 478, 3]
    glob = np.median(shapes, 0)
    # mouth: the frames with closed lips (a talking clip's least-open fifth is still
    # half open, and everything below the neutral opening is lost), then the least
    # strained of those: neither smiling (a clip that starts mid-smile) nor pursed (the
    # narrowest closed mouth, which "least stretched" picked before, is a pucker)
    gap = mouth_gap(shapes)
    sel = gap <= np.percentile(gap, CLOSED_PCT) + CLOSED_TOL
    closed = shapes[sel]
    strain = mouth_strain(closed, np.stack([f.identity for f in faces])[sel])
    mouth = np.median(closed[strain <= np.percentile(strain, REST_PCT)], 0)
    eyes = []
    gaps = eye_gaps(shapes)
    for e in range(2):
        lo, hi = np.percentile(gaps[:, e], EYE_BAND)
        sel = (gaps[:, e] >= lo) & (gaps[:, e] <= hi)
        eyes.append(np.median(shapes[sel], 0) if sel.any() else glob)
    w = _region_weights()  # [478, 4]: global, right eye, left eye, mouth
    shape = w[:, 0:1] * glob + w[:, 1:2] * eyes[0] + w[:, 2:3] * eyes[1] + w[:, 3:4] * mouth
    eul = np.array([f.pose.euler() for f in faces])
    yaw, pitch, roll = np.median(eul, 0)
    pose = Similarity(float(np.median([f.pose.scale for f in faces])), euler_to_rotation(yaw, pitch, roll),
                      np.median(np.stack([f.pose.translation for f in faces]), 0))
    return FaceParams(pose, shape, neutral_shape(shape))


def nearest_face(faces: Sequence[FaceParams], neutral: FaceParams) -> int:
    """Index of the face whose eyes and mouth are nearest ``neutral``'s (a real frame to stand
    for the composite neutral face: its pixels are the reference a refiner compares against)."""
    w = _region_weights()[:, 1:].sum(1)  # eyes and mouth
    shapes = np.stack([f.shape for f in faces])
    d = (np.linalg.norm(shapes - neutral.shape[None], axis=-1) * w).sum(1)
    return int(np.argmin(d))


def soft_clamp(x: float, limit: float, knee: float = 0.7) -> float:
    """Identity up to ``knee * limit``, then a smooth (C1) approach to ``limit`` (odd)."""
    a, k = abs(x), knee * limit
    if a <= k or limit <= 0:
        return x if limit > 0 else 0.0
    return math.copysign(k + (limit - k) * math.tanh((a - k) / (limit - k)), x)


def clamp_turn(delta: np.ndarray, max_yaw: float, max_pitch: float) -> tuple[np.ndarray, bool]:
    """Smoothly clamp a head rotation relative to the target's pose ([3, 3]) to what a warp
    can show; returns (rotation, whether the request went beyond the limits)."""
    from .frame import rotation_to_euler

    yaw, pitch, roll = rotation_to_euler(delta)
    beyond = abs(yaw) > max_yaw or abs(pitch) > max_pitch
    return euler_to_rotation(soft_clamp(yaw, max_yaw), soft_clamp(pitch, max_pitch), roll), beyond


@dataclass(frozen=True)
class Framing:
    """How much of the driver's framing motion reaches the target (values: params.yaml ``mesh:``)."""

    follow: float      # share of the driver's scale / shift change passed on (0 = fixed framing)
    max_scale: float   # output face scale stays within +-this fraction of the target's
    max_shift: float   # output head shift stays within this fraction of the crop side
    smooth_s: float    # time constant (s) smoothing the passed-on scale and shift (0: none)
    recover_s: float   # after a lost face, blend the held pose into the new one over this (s)


@dataclass(frozen=True)
class Motion:
    """One driving frame, normalised: the face (expression, rotation) and its framing change."""

    face: FaceParams         # the driving face (held / blended across lost frames)
    log_scale: float         # smoothed share of log(scale / reference scale)
    shift: np.ndarray        # [2] smoothed share of the camera-frame (x, y) shift, reference face units
    held: bool = False       # no face in this frame: the last pose is held


def _rotvec(r: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(r).as_rotvec()


def _from_rotvec(v: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(v).as_matrix()


class DriverMotion:
    """Per-frame driver normalisation against a reference face (stateful; one per clip)."""

    def __init__(self, framing: Framing) -> None:
        self.framing = framing
        self.reference: FaceParams | None = None
        self._last: Motion | None = None
        self._t: float | None = None
        self._gap: tuple[np.ndarray, np.ndarray, float] | None = None  # (shape, rotvec, seconds left)

    def set_reference(self, reference: FaceParams) -> None:
        self.reference = reference

    def __call__(self, face: FaceParams | None, t: float) -> Motion:
        """Normalise one frame (``face`` None = no face found: hold the last pose)."""
        fr = self.framing
        dt = 1.0 / 30.0 if self._t is None or t <= self._t else t - self._t
        self._t = t
        if face is None:
            if self._last is None:
                raise ValueError("no driving face yet")
            self._last = replace(self._last, held=True)
            self._gap = None
            return self._last
        if self.reference is None:
            self.reference = face
        ref = self.reference
        if self._last is not None and self._last.held:  # the face is back: blend out the jump
            old = self._last.face
            self._gap = (old.shape - face.shape, _rotvec(old.pose.rotation @ face.pose.rotation.T), fr.recover_s)
        if self._gap is not None:
            d_shape, d_rot, left = self._gap
            w = left / fr.recover_s if fr.recover_s > 0 else 0.0
            rot = _from_rotvec(w * d_rot) @ face.pose.rotation
            face = FaceParams(replace(face.pose, rotation=rot), face.shape + w * d_shape, face.identity)
            left -= dt
            self._gap = (d_shape, d_rot, left) if left > 0 else None
        raw_l = fr.follow * math.log(face.pose.scale / ref.pose.scale)
        raw_s = fr.follow * (face.pose.translation[:2] - ref.pose.translation[:2]) / ref.pose.scale
        if self._last is None or fr.smooth_s <= 0:
            log_scale, shift = raw_l, raw_s
        else:
            a = 1.0 - math.exp(-dt / fr.smooth_s)
            log_scale = self._last.log_scale + a * (raw_l - self._last.log_scale)
            shift = self._last.shift + a * (raw_s - self._last.shift)
        self._last = Motion(face, float(log_scale), np.asarray(shift, float))
        return self._last

