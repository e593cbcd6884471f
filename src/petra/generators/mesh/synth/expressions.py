"""Named expression controls as displacements of the canonical face (cm), for random identities.

Each control maps an amount (0..1, ``smile`` and ``brow_raise`` also accept -1..0)
to a displacement field ``[478, 3]`` in the canonical frame of
:mod:`petra.geometry.canonical` (x toward the image's right, y up, z toward the
camera, centimetres). Controls add, so ``smile=0.8,jaw_open=0.3`` is one mesh.

* ``jaw_open``: the lower lip, chin and jaw drop (up to 1.6 cm at the lower inner
  lip) and move slightly back, falling off toward the jaw angles;
* ``smile``: mouth corners move out and up (0.45 / 0.4 cm), dragging the cheeks;
* ``blink`` / ``blink_left`` / ``blink_right``: upper lids move onto the lower lids;
* ``brow_raise``: brows move up by 0.5 cm.

Hand-made rather than learned so that every amount has a geometric meaning the
tests can measure back (e.g. the inner-lip gap of ``jaw_open``).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Mapping

import numpy as np

from petra.errors import InputError
from petra.geometry.canonical import BROW_LEFT, BROW_RIGHT, N_REFINED, canonical_face, refined_vertices
from petra.geometry.motion import LID_LOWER_R, LID_UPPER_R  # upper / lower lid pairs (subject's right eye)

CONTROLS = ("jaw_open", "smile", "blink", "blink_left", "blink_right", "brow_raise")

# MediaPipe lip vertices (FACEMESH_LIPS), corners excluded.
LOWER_LIP = np.array([146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318, 324])
UPPER_LIP = np.array([185, 40, 39, 37, 0, 267, 269, 270, 409, 191, 80, 81, 82, 13, 312, 311, 310, 415])
CORNERS = np.array([61, 291, 78, 308])
JAW_DROP_CM = 1.6


@lru_cache(maxsize=1)
def basis() -> dict[str, np.ndarray]:
    """Unit displacement fields [478, 3] of every control (see the module docstring)."""
    cf = canonical_face()
    v = refined_vertices()
    x, y = v[:, 0], v[:, 1]
    y_c = v[CORNERS, 1].mean()
    out: dict[str, np.ndarray] = {}

    # jaw_open: weight 1 for the lower lip and below, 0 for the upper lip and above.
    w = np.clip((y_c - y) / 0.5, 0.0, 1.0)
    w[LOWER_LIP] = 1.0
    w[UPPER_LIP] = 0.0
    w[CORNERS] = 0.35
    w *= np.clip(1.0 - (np.abs(x) - 3.5) / 3.0, 0.0, 1.0)      # fades toward the jaw angles
    d = np.zeros((N_REFINED, 3))
    d[:, 1] = -w
    d[:, 2] = -0.35 * w
    out["jaw_open"] = d * JAW_DROP_CM

    # smile: corners out and up, Gaussian falloff around each corner.
    d = np.zeros((N_REFINED, 3))
    for c, side in ((61, -1.0), (291, 1.0)):
        r2 = ((v - v[c]) ** 2).sum(1)
        g = np.exp(-r2 / (2 * 1.1**2))
        d[:, 0] += side * 0.45 * g
        d[:, 1] += 0.40 * g
    out["smile"] = d

    # blinks: each upper lid vertex moves onto its lower partner.
    mirror = cf.mirror
    for name, up, lo in (("blink_right", LID_UPPER_R, LID_LOWER_R), ("blink_left", mirror[LID_UPPER_R], mirror[LID_LOWER_R])):
        d = np.zeros((N_REFINED, 3))
        d[up, 1] = v[lo, 1] - v[up, 1] + 0.02
        # the rest of the upper-lid loop follows with half the motion
        loop = cf.loops["eye_right" if name == "blink_right" else "eye_left"]
        ctr = v[loop].mean(0)
        rest = np.array([i for i in loop if i not in set(up.tolist()) | set(lo.tolist()) and v[i, 1] > ctr[1]], int)
        if len(rest):
            d[rest, 1] = 0.5 * (ctr[1] - v[rest, 1])
        out[name] = d
    out["blink"] = out["blink_right"] + out["blink_left"]

    d = np.zeros((N_REFINED, 3))
    d[np.concatenate([BROW_RIGHT, BROW_LEFT]), 1] = 0.5
    out["brow_raise"] = d
    return out


def parse_expression(text: str | None) -> dict[str, float]:
    """``"smile=0.8,jaw_open=0.3,blink=1"`` -> {"smile": 0.8, ...}; InputError on a bad entry."""
    out: dict[str, float] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if name not in CONTROLS:
            raise InputError("--expression", f"unknown control {name!r}; known: {', '.join(CONTROLS)}")
        try:
            amount = float(value) if sep else 1.0
        except ValueError:
            raise InputError("--expression", f"{name}: {value!r} is not a number") from None
        lo = -1.0 if name in ("smile", "brow_raise") else 0.0
        if not lo <= amount <= 1.0:
            raise InputError("--expression", f"{name}={amount} outside [{lo:g}, 1]")
        out[name] = amount
    return out


def expression_offsets(amounts: Mapping[str, float], scale: float = 1.0) -> np.ndarray:
    """Sum of the controls' displacement fields [478, 3] (cm), scaled by the face size ``scale``."""
    b = basis()
    d = np.zeros((N_REFINED, 3))
    for name, a in amounts.items():
        d += float(a) * b[name]
    return d * scale
