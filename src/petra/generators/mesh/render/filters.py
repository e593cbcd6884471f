"""Temporal smoothing of driving landmarks (video), so the output does not jitter.

The One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) is a low-pass filter whose
cut-off rises with speed: slow drift (landmark noise on a still face) is smoothed
strongly, fast motion (a blink, a mouth opening) passes with little lag.
"""
from __future__ import annotations

import math

import numpy as np


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

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
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


def make_filter(method: str, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> OneEuroFilter | None:
    """``one_euro`` -> a filter; ``none`` -> None (no smoothing)."""
    if method == "none":
        return None
    if method == "one_euro":
        return OneEuroFilter(min_cutoff, beta, d_cutoff)
    raise ValueError(f"unknown smoothing {method!r}; use one_euro or none")
