"""A shut eye is a dark lash line: the thin strip where the lids meet takes the lash colour.

MediaPipe's lid margins sit a pixel or so inside the eye, on the white and the iris. When
the output closes an eye, what is left between the two lash lines (the squashed eye
opening and the inner edge of each lash strip of :mod:`.lids`) is that sliver: a line of
white and iris along the closed lids, which reads as an open eye to people and to
landmark detectors alike (dlib and MediaPipe put the lids around it). Real lids meet in a
line of lashes.

Once per target the colour of each upper lash line is measured (the darker quarter of the
band between the margin and the lash ring). Per frame, as an eye's lid gap falls from
:data:`SHUT_FROM` to :data:`SHUT_FULL` of the target's own, the pixels of its opening and of
both lash strips blend into that colour. An eye at least :data:`SHUT_FROM` open is untouched.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from petra.geometry.canonical import canonical_face
from . import lids
from .field import topology
from .lidskin import AA_SIGMA, triangle_weights

SHUT_FROM = 0.4    # output lid gap / target lid gap below which the lash colour comes in
SHUT_FULL = 0.1    # ... and at which it owns the whole line
EYES = ("eye_right", "eye_left")


@dataclass(frozen=True)
class ShutDraw:
    """One closing eye: a window of the output and its blend weights toward the lash colour."""

    eye: int            # 0: the subject's right eye, 1: left
    y0: int
    x0: int
    alpha: np.ndarray   # [h, w] float32, 0..1


@lru_cache(maxsize=1)
def line_triangles() -> tuple[np.ndarray, np.ndarray]:
    """Per eye, the triangles [n] (extended topology) of its opening and both lash strips."""
    topo = topology()
    cf = canonical_face()
    margin, _, lid_list = lids.chains()
    face = topo.triangles[: topo.n_face]
    out = []
    for e in range(2):
        a, b, up = lid_list[2 * e]
        lo = lid_list[2 * e + 1][2]
        lash = topo.lash + np.concatenate([up, lo])
        edge = np.concatenate([lash, margin[up], margin[lo], [a, b]])
        strips = np.isin(face, lash).any(1) & np.isin(face, edge).all(1)
        opening = np.zeros(len(face), bool)
        opening[: len(cf.triangles)] = np.all(np.isin(cf.triangles, cf.loops[EYES[e]]), axis=1)
        out.append(np.nonzero(strips | opening)[0])
    return out[0], out[1]


def lash_colours(target: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """[2, 3] float32 RGB of each eye's upper lash line (the darker quarter of its lash strip)."""
    import cv2

    margin, outer, lid_list = lids.chains()
    p = np.asarray(pts, np.float64)[:, :2]
    grey = cv2.cvtColor(target, cv2.COLOR_RGB2GRAY)
    out = np.zeros((2, 3), np.float32)
    for e in range(2):
        a, b, up = lid_list[2 * e]
        band = p[margin[up]] + lids.LASH * (p[outer[up]] - p[margin[up]])
        poly = np.concatenate([p[[a]], p[margin[up]], p[[b]], band[::-1]])
        mask = np.zeros(target.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 255, cv2.LINE_8, 4)
        sel = mask > 0
        if sel.sum() < 4:
            continue
        g = grey[sel]
        dark = g <= np.percentile(g, 25)
        out[e] = np.median(target[sel][dark], 0)
    return out


def lid_gaps(src: Any, dst: Any, scale: float) -> np.ndarray:
    """[2] output lid gap / target lid gap per eye (middle five columns, head scale divided out)."""
    margin, _, lid_list = lids.chains()
    res = np.ones(2)
    for e in range(2):
        up, lo = margin[lid_list[2 * e][2][1:-1]], margin[lid_list[2 * e + 1][2][1:-1]]
        own = np.linalg.norm(src[up] - src[lo], axis=1).mean() * scale
        if own > 1e-6:
            res[e] = np.linalg.norm(dst[up] - dst[lo], axis=1).mean() / own
    return res


def plan_shut(ids: np.ndarray, gaps: np.ndarray, dst_ext: np.ndarray) -> list[ShutDraw]:
    """Shut-eye layers of one frame from the triangle id map [H, W], :func:`lid_gaps` and the
    extended output points [P, 2] (the layers' windows)."""
    draws = []
    for e, tris in enumerate(line_triangles()):
        u = float(np.clip((SHUT_FROM - gaps[e]) / (SHUT_FROM - SHUT_FULL), 0.0, 1.0))
        a = u * u * (3 - 2 * u)
        if a > 0.01 and (win := triangle_weights(ids, tris, a, dst_ext, AA_SIGMA)) is not None:
            draws.append(ShutDraw(e, *win))
    return draws
