"""Split a face mesh into pose, identity shape and expression; compose transfer meshes.

A fitted face (:class:`FaceParams`) is

- ``pose``: the similarity canonical -> image (yaw, pitch, roll, translation, scale);
- ``shape``: the 478 points in the canonical frame (cm), i.e. identity + expression;
- ``identity``: a neutral estimate of this person's shape: the canonical face under
  the affine map that best fits the *rigid* points (face width, height, depth and
  slant), irises centred in their eyes;
- ``expression = shape - identity`` (mouth, lids, brows, jaw, gaze; plus the fine
  personal detail an affine neutral cannot hold, which is why ``relative`` mode is
  preferred whenever a reference frame exists).

:func:`compose_mesh` builds the output mesh = target identity + source expression +
source pose. Expression displacements are *retargeted*: each vertex's displacement
is scaled per axis by the ratio of target to source proportions of its region (eye
width and opening height for the eyes, mouth width and lower-face height for the
mouth, face width and height elsewhere), so a full blink of a wide-eyed source
closes, and does not overshoot, a narrow-eyed target.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from .canonical import (
    IRIS_LEFT,
    IRIS_RIGHT,
    LIPS_OUTER,
    N_MESH,
    N_REFINED,
    canonical_face,
    refined_vertices,
)
from .frame import Similarity, fit_similarity

Mode = Literal["relative", "absolute"]

# Outer / inner lip vertex pairs (upper lip, then lower lip), matched column by column.
LIP_OUTER_UP = np.array([185, 40, 39, 37, 0, 267, 269, 270, 409])
LIP_INNER_UP = np.array([191, 80, 81, 82, 13, 312, 311, 310, 415])
LIP_OUTER_LO = np.array([146, 91, 181, 84, 17, 314, 405, 321, 375])
LIP_INNER_LO = np.array([95, 88, 178, 87, 14, 317, 402, 318, 324])
MIN_LIP = 0.6  # a lip keeps at least this share of the target's own thickness
# MediaPipe reads a closed eye as slightly open: over 22 blinks in 30 sample clips the lid gap
# at the deepest point was a median 7 % (quartiles -1 %, 18 %) of the clip's neutral gap. An
# output eye this share open (of the target's own opening) or less is drawn closed; the range
# above is stretched linearly so the neutral opening stays as it is.
BLINK_FLOOR = 0.12
UPPER_SHARE = 0.8  # the upper lid does this share of a blink

# Upper / lower lid vertex pairs of the subject's right eye (left eye = mirror twins).
LID_UPPER_R = np.array([246, 161, 160, 159, 158, 157, 173])
LID_LOWER_R = np.array([7, 163, 144, 145, 153, 154, 155])


@dataclass(frozen=True)
class FaceParams:
    """One face: pose + canonical-frame shape (see module docstring). Shapes [478, 3], cm."""

    pose: Similarity
    shape: np.ndarray
    identity: np.ndarray

    @property
    def expression(self) -> np.ndarray:
        return self.shape - self.identity

    def to_image(self, shape: np.ndarray | None = None) -> np.ndarray:
        """Points [478, 3] in image pixels for ``shape`` (default: this face's own)."""
        return self.pose.to_image(self.shape if shape is None else shape)


@lru_cache(maxsize=1)
def _lids() -> tuple[np.ndarray, np.ndarray]:
    m = canonical_face().mirror
    return np.concatenate([LID_UPPER_R, m[LID_UPPER_R]]), np.concatenate([LID_LOWER_R, m[LID_LOWER_R]])


def fit_face(points: np.ndarray) -> FaceParams:
    """Fit a 478-point mesh (image pixels) -> :class:`FaceParams`."""
    if points.shape != (N_REFINED, 3):
        raise ValueError(f"expected [478, 3] mesh points, got {points.shape}")
    pose = fit_similarity(points)
    shape = pose.to_canonical(points)
    return FaceParams(pose, shape, neutral_shape(shape))


def neutral_shape(shape: np.ndarray) -> np.ndarray:
    """Affine-of-canonical neutral estimate of ``shape`` [478, 3] (irises centred)."""
    cf = canonical_face()
    idx = cf.rigid
    src = np.c_[cf.vertices[idx], np.ones(len(idx))]
    coef, *_ = np.linalg.lstsq(src, shape[idx], rcond=None)  # [4, 3]
    out = np.empty_like(shape)
    out[:N_MESH] = np.c_[cf.vertices, np.ones(N_MESH)] @ coef
    for iris, loop in ((IRIS_RIGHT, cf.loops["eye_right"]), (IRIS_LEFT, cf.loops["eye_left"])):
        out[iris] = shape[iris] - shape[iris[0]] + out[loop].mean(0)
    return out


def proportions(shape: np.ndarray) -> dict[str, float]:
    """Region sizes (cm) that retargeting divides: face, eyes, mouth."""
    m = canonical_face().mirror
    up, lo = LID_UPPER_R, LID_LOWER_R
    return {
        "face_w": abs(shape[454, 0] - shape[234, 0]),
        "face_h": abs(shape[10, 1] - shape[152, 1]),
        "eye_r_w": float(np.linalg.norm(shape[33] - shape[133])),
        "eye_l_w": float(np.linalg.norm(shape[263] - shape[362])),
        "eye_r_h": float(np.mean(shape[up, 1] - shape[lo, 1])),
        "eye_l_h": float(np.mean(shape[m[up], 1] - shape[m[lo], 1])),
        "mouth_w": float(np.linalg.norm(shape[61] - shape[291])),
        "lower_h": abs(shape[2, 1] - shape[152, 1]),
    }


def _ratio(a: float, b: float, lo: float = 0.5, hi: float = 2.0) -> float:
    return float(np.clip(a / max(b, 1e-3), lo, hi))


@lru_cache(maxsize=1)
def _region_weights() -> np.ndarray:
    """[478, 4] soft membership (global, right eye, left eye, mouth), rows sum to 1."""
    cf = canonical_face()
    v = refined_vertices()
    centres = [cf.vertices[cf.loops["eye_right"]].mean(0), cf.vertices[cf.loops["eye_left"]].mean(0),
               cf.vertices[LIPS_OUTER].mean(0)]
    sigmas = [1.3, 1.3, 2.2]
    w = [np.full(N_REFINED, 0.15)]
    for c, s in zip(centres, sigmas):
        w.append(np.exp(-((v - c) ** 2).sum(1) / (2 * s * s)))
    w = np.stack(w, 1)
    return w / w.sum(1, keepdims=True)


def retarget_scales(tgt: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Per-vertex axis scales [478, 3] taking displacements of ``src`` proportions to ``tgt``'s."""
    pt, ps = proportions(tgt), proportions(src)
    g = [_ratio(pt["face_w"], ps["face_w"]), _ratio(pt["face_h"], ps["face_h"])]
    glob = [g[0], g[1], 0.5 * (g[0] + g[1])]
    eye_r = [_ratio(pt["eye_r_w"], ps["eye_r_w"]), _ratio(pt["eye_r_h"], ps["eye_r_h"])]
    eye_l = [_ratio(pt["eye_l_w"], ps["eye_l_w"]), _ratio(pt["eye_l_h"], ps["eye_l_h"])]
    mouth = [_ratio(pt["mouth_w"], ps["mouth_w"]), _ratio(pt["lower_h"], ps["lower_h"])]
    regions = np.array([glob,
                        [eye_r[0], eye_r[1], glob[2]],
                        [eye_l[0], eye_l[1], glob[2]],
                        [mouth[0], mouth[1], 0.5 * (mouth[0] + mouth[1])]])  # [4, 3]
    return _region_weights() @ regions


def close_lids(shape: np.ndarray, target: np.ndarray | None = None) -> np.ndarray:
    """Keep upper lids from crossing below lower lids (canonical y is up).

    A crossing the target already has (mesh noise on a turned face) is allowed, so driving
    a face with itself changes nothing.
    """
    up, lo = _lids()
    out = shape.copy()
    allowed = np.zeros(len(up)) if target is None else np.minimum(target[up, 1] - target[lo, 1], 0.0)
    gap = out[up, 1] - out[lo, 1]
    cross = gap < allowed
    mid = 0.5 * (out[up, 1] + out[lo, 1])
    out[up[cross], 1] = mid[cross] + 0.5 * allowed[cross]
    out[lo[cross], 1] = mid[cross] - 0.5 * allowed[cross]
    return out


def deepen_blinks(shape: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Map each output lid gap's openness o (of the target's own gap) to
    ``(o - BLINK_FLOOR) / (1 - BLINK_FLOOR)`` below 1, so the driver's closed eye (which the
    landmark model reads as ~10 % open) closes the target's fully; wider gaps are unchanged."""
    up, lo = _lids()
    own = target[up, 1] - target[lo, 1]
    gap = shape[up, 1] - shape[lo, 1]
    ok = own > 1e-3
    o = np.where(ok, gap / np.where(ok, own, 1.0), 1.0)
    want = np.where(o < 1.0, np.clip((o - BLINK_FLOOR) / (1.0 - BLINK_FLOOR), 0.0, 1.0), o)
    extra = (o - want) * np.where(ok, own, 0.0)  # >= 0: how much more to close
    out = shape.copy()
    out[up, 1] -= UPPER_SHARE * extra
    out[lo, 1] += (1.0 - UPPER_SHARE) * extra
    return out


def damp_mouth_closing(delta: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Scale the mouth region's displacement down when it would close the target's mouth
    beyond shut (a reference frame with an open mouth, a target with a closed one):
    the largest closing the target can take, as a fraction of the source's, applies to
    the whole mouth region (soft weights), so lips keep their shape instead of being
    pushed through each other."""
    gap = target[LIP_INNER_UP, 1] - target[LIP_INNER_LO, 1]        # >= 0: open
    change = delta[LIP_INNER_UP, 1] - delta[LIP_INNER_LO, 1]       # < 0: closing
    closing = change < -1e-6
    if not closing.any():
        return delta
    alpha = float(np.clip(np.min(np.maximum(gap[closing], 0.0) / -change[closing]), 0.0, 1.0))
    if alpha >= 1.0:
        return delta
    w = _region_weights()[:, 3:4]
    return delta * (1.0 - w * (1.0 - alpha))


def close_mouth(shape: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Stop the lower lip from passing through the upper one (a relative closing larger than
    the target's opening): both lips are pushed back apart by half the overlap each,
    keeping their thickness (an overlap the target's own mesh has is allowed)."""
    out = shape.copy()
    own = np.maximum(target[LIP_INNER_LO, 1] - target[LIP_INNER_UP, 1], 0.0)
    cross = np.maximum(out[LIP_INNER_LO, 1] - out[LIP_INNER_UP, 1] - own, 0.0)  # canonical y is up
    out[LIP_INNER_LO, 1] -= cross / 2
    out[LIP_OUTER_LO, 1] -= cross / 2
    out[LIP_INNER_UP, 1] += cross / 2
    out[LIP_OUTER_UP, 1] += cross / 2
    return out


def keep_lips(shape: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Stop retargeted inner lip contours from crossing the outer ones (lips turned inside out).

    A source with thick lips opening its mouth moves its inner contour further than a
    thin-lipped target's lips are thick; each inner point is held at least
    :data:`MIN_LIP` of the target's lip thickness inside its outer partner.
    """
    out = shape.copy()
    for outer, inner, sign in ((LIP_OUTER_UP, LIP_INNER_UP, 1.0), (LIP_OUTER_LO, LIP_INNER_LO, -1.0)):
        thick = sign * (target[outer, 1] - target[inner, 1])
        need = np.where(thick > 0, MIN_LIP * thick, thick)  # the target's own inversion is allowed
        limit = out[outer, 1] - sign * need
        y = out[inner, 1]
        out[inner, 1] = np.minimum(y, limit) if sign > 0 else np.maximum(y, limit)
    return out


def compose_params(target: FaceParams, source: FaceParams, reference: FaceParams | None = None,
                   mode: Mode = "relative", expression_scale: float = 1.0,
                   max_shift: float | None = None, framing: tuple[float, np.ndarray] | None = None,
                   max_scale: float | None = None) -> tuple[Similarity, np.ndarray]:
    """Output (pose, canonical shape): target identity + source expression + source pose.

    ``relative``: source motion measured against ``reference`` (the driver's neutral
    face over the clip, or a frame of the same driving video) and applied on top of
    the target as it is. The head's scale and image-plane shift come from ``framing``
    = (log scale change, (x, y) shift in reference face units), the driver's bounded,
    smoothed framing motion (:class:`petra.geometry.driver.DriverMotion`), softly
    bounded to ``max_scale`` (fraction) and ``max_shift`` (pixels): a warp cannot move
    a head across its photo, and a camera zoom must not balloon the face. Without
    ``framing`` the raw change from the reference is used (shift clamped to ``max_shift``).
    ``absolute``: the source's own pose and expression (a single driving image).
    """
    if mode == "relative":
        ref = reference if reference is not None else source
        delta = expression_scale * (source.shape - ref.shape) * retarget_scales(target.shape, ref.shape)
        shape = target.shape + damp_mouth_closing(delta, target.shape)
        ts, tr, tt = target.pose.scale, target.pose.rotation, target.pose.translation
        rot = source.pose.rotation @ ref.pose.rotation.T @ tr
        if framing is None:
            k = source.pose.scale / ref.pose.scale
            shift = (source.pose.translation - ref.pose.translation) * (ts / ref.pose.scale)
            norm = float(np.hypot(shift[0], shift[1]))
            if max_shift is not None and norm > max_shift:
                shift = shift * (max_shift / norm)
        else:
            from .driver import soft_clamp  # geometry.driver imports this module

            log_k, d = framing
            k = float(np.exp(log_k if max_scale is None else soft_clamp(log_k, float(np.log1p(max_scale)))))
            shift = np.array([d[0], d[1], 0.0]) * ts
            norm = float(np.hypot(shift[0], shift[1]))
            if max_shift is not None and norm > 0:
                shift = shift * (soft_clamp(norm, max_shift) / norm)
        pose = Similarity(ts * k, rot, tt + shift)
    elif mode == "absolute":
        expr = source.expression * retarget_scales(target.identity, source.identity)
        shape = target.identity + expression_scale * expr
        pose = Similarity(target.pose.scale, source.pose.rotation, target.pose.translation)
    else:
        raise ValueError(f"unknown mode {mode!r}; use relative or absolute")
    ref_shape = target.shape
    shape = close_lids(deepen_blinks(shape, ref_shape), ref_shape)
    return pose, keep_lips(close_mouth(shape, ref_shape), ref_shape)


def compose_mesh(target: FaceParams, source: FaceParams, reference: FaceParams | None = None,
                 mode: Mode = "relative", expression_scale: float = 1.0, max_shift: float | None = None,
                 framing: tuple[float, np.ndarray] | None = None, max_scale: float | None = None) -> np.ndarray:
    """The output mesh [478, 3] in the target image's pixels (see :func:`compose_params`)."""
    pose, shape = compose_params(target, source, reference, mode, expression_scale, max_shift, framing, max_scale)
    return pose.to_image(shape)
