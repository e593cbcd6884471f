"""Temporal smoothing of driving landmarks (video), so the output does not jitter.

The One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) is a low-pass filter whose
cut-off rises with speed: slow drift (landmark noise on a still face) is smoothed
strongly, fast motion (a blink, a mouth opening) passes with little lag. A whole clip
is smoothed offline without lag (:func:`smooth_clip`); a live stream uses the causal
filter.

A low-pass filter still rounds off the deepest frames of a blink (the lids meet for 2-3
frames): measured on the hard-case clips, raw lid gaps of 0.02-0.08 of the eye width came
out at 0.10-0.13 after smoothing, so the target's eyes never closed. :func:`restore_fast`
gives the eyes and lips back what smoothing took, beyond the clip's own landmark noise.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from petra.geometry.canonical import IRIS_LEFT, IRIS_RIGHT, LIPS_OUTER, canonical_face
from petra.geometry.motion import LID_LOWER_R, LID_UPPER_R, LIP_INNER_LO, LIP_INNER_UP


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Element-wise One-Euro filter over arrays of any fixed shape (e.g. [478, 3] landmarks).

    ``min_cutoff`` (Hz) sets the smoothing at rest, ``beta`` how fast the cut-off rises with
    speed, ``d_cutoff`` (Hz) the smoothing of the speed estimate. Values are in the
    array's units per second (pixels here), so ``beta`` depends on the image scale; the
    filter normalises speed by ``scale`` (e.g. the face size in pixels) to make it not.
    """

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._x = self._dx = self._t = None

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        dx = (x - self._x) / dt / max(scale, 1e-9)
        a_d = _alpha(self.d_cutoff, dt)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        tau = 1.0 / (2 * math.pi * cutoff)
        a = 1.0 / (1.0 + tau / dt)
        self._x = a * x + (1 - a) * self._x
        self._t = t
        return self._x.copy()


def make_filter(method: str, min_cutoff: float, beta: float, d_cutoff: float) -> OneEuroFilter | None:
    """``one_euro`` -> a filter; ``none`` -> None (no smoothing). Values: params.yaml ``mesh.smoothing``."""
    if method == "none":
        return None
    if method == "one_euro":
        return OneEuroFilter(min_cutoff, beta, d_cutoff)
    raise ValueError(f"unknown smoothing {method!r}; use one_euro or none")


# Nose ridge and eye corners: they move with the head only, so their smoothing residual is
# head jitter, which stays smoothed.
RIGID = np.array([6, 168, 197, 195, 5, 4, 1, 33, 133, 263, 362])
# An opening's smoothing residual under the first many noise sigmas is noise, beyond the second
# motion. On a still face (a photo with sensor noise and sub-pixel shake, MediaPipe's own
# jitter) the residual stayed under 1.4 sigma (eyes) / 2.2 sigma (mouth); Gaussian noise passes
# 4 sigma on 0.006 % of frames; the deepest frames of a real blink measured 5-10 sigma.
KEEP_SIGMA = (4.0, 7.0)


@lru_cache(maxsize=1)
def detail_groups() -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
    """(vertices, upper, lower) per restored group: each eye (lids + iris; its lid pairs) and
    the lips (inner-lip pairs). The openness of a group is its mean upper-lower distance."""
    cf = canonical_face()
    m = cf.mirror
    lips = np.unique(np.r_[LIPS_OUTER, cf.loops["mouth_inner"]])
    return ((np.r_[cf.loops["eye_right"], IRIS_RIGHT], LID_UPPER_R, LID_LOWER_R),
            (np.r_[cf.loops["eye_left"], IRIS_LEFT], m[LID_UPPER_R], m[LID_LOWER_R]),
            (lips, LIP_INNER_UP, LIP_INNER_LO))


def noise_sigma(x: np.ndarray) -> float:
    """Robust noise sigma of a series ``x`` [m] (or [m, ...], pooled): white noise of sigma s
    has second differences of sigma s * sqrt(6); their median absolute value / 0.6745
    ignores the few frames of real fast motion (a blink is 2-3 frames of a clip)."""
    if len(x) < 3:
        return 0.0
    d2 = x[2:] - 2.0 * x[1:-1] + x[:-2]
    return float(np.median(np.abs(d2))) / (0.6745 * np.sqrt(6.0))


def openings(x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """[m, groups]: each :func:`detail_groups` group's opening (mean upper-lower distance over
    ``scale`` [m]) in landmarks ``x`` [m, 478, >=2]."""
    s = np.maximum(scale, 1e-9)
    return np.stack([np.linalg.norm(x[:, lo, :2] - x[:, up, :2], axis=-1).mean(1) / s
                     for _, up, lo in detail_groups()], axis=1)


def restore_fast(raw: np.ndarray, smooth: np.ndarray, scale: np.ndarray, k: tuple[float, float] = KEEP_SIGMA,
                 sigmas: Sequence[float] | None = None) -> np.ndarray:
    """``smooth`` [m, 478, 3] with the eyes' and lips' fast openings and closings put back.

    Per group (:func:`detail_groups`) and frame, the opening (:func:`openings`; ``scale`` [m],
    the eye-corner distance) of the raw and the smoothed landmarks are compared: where they
    differ by more than ``k[0]`` noise sigmas of the raw opening (``sigmas``, default
    :func:`noise_sigma` over these frames), the group's raw shape comes back over the
    smoothed one (its residual minus the head's, the :data:`RIGID` points' mean residual, so
    head jitter stays smoothed), fully beyond ``k[1]`` sigmas, continuously in between. One
    scalar per group and frame decides, so a single vertex's noise spike never passes; only
    x, y change."""
    out = smooth.copy()
    head = raw[:, RIGID, :2].mean(1, keepdims=True) - smooth[:, RIGID, :2].mean(1, keepdims=True)
    o_raw, o_smooth = openings(raw, scale), openings(smooth, scale)
    for j, (verts, _, _) in enumerate(detail_groups()):
        sigma = noise_sigma(o_raw[:, j]) if sigmas is None else sigmas[j]
        z = np.abs(o_raw[:, j] - o_smooth[:, j]) / max(sigma, 1e-12)
        w = np.clip((z - k[0]) / (k[1] - k[0]), 0.0, 1.0)
        if w.any():
            out[:, verts, :2] += w[:, None, None] * (raw[:, verts, :2] - smooth[:, verts, :2] - head)
    return out


class StreamRestorer:
    """:func:`restore_fast` for a live stream after the causal filter, one frame at a time: the
    noise sigmas come from the last ``window`` frames' raw openings (none restored before
    ``MIN_HISTORY`` frames). The causal filter delivers a blink late and shallow; this gives
    the lids their raw shape on the frames where they move beyond the noise."""

    MIN_HISTORY = 30  # a second of frames before the noise is known well enough
    EVERY = 10  # frames between two estimates of the noise (it changes slowly)

    def __init__(self, window: int = 90) -> None:
        self._hist: deque[np.ndarray] = deque(maxlen=window)
        self._sigmas: list[float] | None = None
        self._age = 0

    def reset(self) -> None:
        self._hist.clear()
        self._sigmas, self._age = None, 0

    def __call__(self, raw: np.ndarray, smooth: np.ndarray, scale: float) -> np.ndarray:
        sc = np.array([scale], np.float64)
        self._hist.append(openings(raw[None], sc)[0])
        if len(self._hist) < self.MIN_HISTORY:
            return smooth
        self._age += 1
        if self._sigmas is None or self._age >= self.EVERY:
            hist = np.stack(self._hist)
            self._sigmas, self._age = [noise_sigma(hist[:, j]) for j in range(hist.shape[1])], 0
        return restore_fast(raw[None], smooth[None], sc, sigmas=self._sigmas)[0]


SPEED_MEAN, SPEED_MAX = 3, 7  # frames: the centred speed is averaged, then maxed over these windows


def smooth_clip(points: Sequence[np.ndarray | None], times: Sequence[float], min_cutoff: float = 1.0,
                beta: float = 5.0, scale_idx: tuple[int, int] = (33, 263), restore: bool = True
                ) -> list[np.ndarray | None]:
    """Zero-phase, look-ahead One-Euro smoothing of a whole clip's landmarks (offline).

    A causal One-Euro filter notices a blink only after its speed estimate has caught
    up: the blink arrives late and shallow (a 2-frame blink to 0.03 eye aspect ratio
    came out at 0.15, spread over 8 frames). With the whole clip at hand, the speed of
    each coordinate is measured centred (central difference, 3-frame mean, 3-frame
    max), so the cut-off is already high when a fast motion starts; the clip is then
    filtered forward and backward with that cut-off and the two passes averaged, which
    cancels the lag. Then :func:`restore_fast` (``restore``) puts back the eyes' and lips'
    motion beyond the landmark noise. Runs of frames without a face (None) split the clip.
    ``points``: [..., 3] arrays per frame (pixels); ``scale_idx``: the two points whose
    distance normalises speed (the eye corners), as in :class:`OneEuroFilter`.
    """
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    out: list[np.ndarray | None] = list(points)
    i, n = 0, len(points)
    while i < n:
        if points[i] is None:
            i += 1
            continue
        j = i
        while j < n and points[j] is not None:
            j += 1
        a = np.stack([np.asarray(p, np.float64) for p in points[i:j]])  # [m, ...]
        if len(a) > 2:
            t = np.asarray(times[i:j], np.float64)
            dt = np.maximum(np.diff(t), 1e-3)
            scale = np.linalg.norm(a[:, scale_idx[0], :2] - a[:, scale_idx[1], :2], axis=1)
            shape = (-1,) + (1,) * (a.ndim - 1)
            speed = np.empty_like(a)
            speed[1:-1] = (a[2:] - a[:-2]) / (dt[1:] + dt[:-1]).reshape(shape)
            speed[0], speed[-1] = (a[1] - a[0]) / dt[0], (a[-1] - a[-2]) / dt[-1]
            speed = np.abs(speed) / np.maximum(scale, 1e-9).reshape(shape)
            speed = maximum_filter1d(uniform_filter1d(speed, SPEED_MEAN, axis=0), SPEED_MAX, axis=0)
            cutoff = min_cutoff + beta * speed
            step = np.r_[dt[0], dt].reshape(shape)
            alpha = 1.0 / (1.0 + 1.0 / (2 * math.pi * cutoff * step))
            fwd, bwd = a.copy(), a.copy()
            for k in range(1, len(a)):
                fwd[k] = alpha[k] * a[k] + (1 - alpha[k]) * fwd[k - 1]
            for k in range(len(a) - 2, -1, -1):
                bwd[k] = alpha[k] * a[k] + (1 - alpha[k]) * bwd[k + 1]
            smooth = 0.5 * (fwd + bwd)
            a = restore_fast(a, smooth, scale) if restore and a.shape[1:] == (478, 3) else smooth
        out[i:j] = list(a)
        i = j
    return out
