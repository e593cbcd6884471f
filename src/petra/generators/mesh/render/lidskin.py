"""Closing lids show lid skin, not stretched lashes: the skin plate of the eyelids.

MediaPipe's upper-lid band (lid margin -> next ring) is 3-6 px tall at 256 px and holds
the lash line, liner and the shadow under the crease (the lower band: the lower lashes).
When the driver closes an eye the output upper band grows 2-5x (the lower one rises a
little); stretching that strip (even with the lash ring of :mod:`.lids` keeping the lash
line thin) draws its horizontal detail out into vertical streaks and carries the lash and
crease darkness over the whole lid: heavy, dark, smeared sockets.

A closing lid shows the skin that was folded under the crease. Once per target, the eye
openings and the inner part of each lid band (lashes, liner) are painted out of the target
(``cv2.inpaint``): the *skin plate*. Per frame, the pixels of each lid's skin band (lash
ring -> next ring) blend toward the plate as the band stretches (nothing up to
:data:`SKIN_FROM`, all from :data:`SKIN_FULL`), sampled through the lid's own rigid motion
(a similarity fitted on the next ring and the eye corners, which a blink hardly moves): the
closed lid is the skin that lay over the target's eye, shaded as in the target, and the
lash line stays a thin dark line at its edge. An unstretched band keeps the target's pixels.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from . import lids
from .field import similarity_2d, topology
from .lids import _xp

PLATE_SHARE = 0.6   # the plate paints out the eye opening and this share of each lid band
SKIN_FROM = 1.2     # output band / target band at which the lid starts to show plate skin
SKIN_FULL = 1.8     # ... and at which it shows only plate skin
AA_SIGMA = 0.6      # px: anti-aliasing of the lid layers' triangle edges (:func:`triangle_weights`)


@dataclass(frozen=True)
class SkinDraw:
    """One lid's skin layer in the output: a window and its blend weights."""

    lid: int            # index into :func:`petra.generators.mesh.render.lids.chains`'s lids
    y0: int
    x0: int
    alpha: np.ndarray   # [h, w] float32, 0..1 (0 outside the lid's skin band)


def skin_plate(target: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """The target [H, W, 3] uint8 with its eye openings and lash bands painted out (``pts``: [478, >=2] px)."""
    import cv2

    margin, outer, lid_list = lids.chains()
    p = np.asarray(pts, np.float64)[:, :2]
    mask = np.zeros(target.shape[:2], np.uint8)
    for n in range(0, len(lid_list), 2):  # upper lid n, lower lid n + 1 of the same eye
        a, b, up = lid_list[n]
        lo = lid_list[n + 1][2]
        top = p[margin[up]] + PLATE_SHARE * (p[outer[up]] - p[margin[up]])
        bottom = p[margin[lo]] + PLATE_SHARE * (p[outer[lo]] - p[margin[lo]])
        poly = np.concatenate([p[[a]], top, p[[b]], bottom[::-1]])
        cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 255, cv2.LINE_8, 4)
    if not mask.any():
        return target.copy()
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(mask)
    pad = 8
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, target.shape[0])
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, target.shape[1])
    out = target.copy()
    out[y0:y1, x0:x1] = cv2.inpaint(np.ascontiguousarray(target[y0:y1, x0:x1]), mask[y0:y1, x0:x1], 4,
                                    cv2.INPAINT_TELEA)
    return out


@lru_cache(maxsize=1)
def skin_triangles() -> tuple[tuple[int, np.ndarray, np.ndarray], ...]:
    """Per lid: (lid number, its skin-band triangles [n] in the extended topology,
    the lash-ring positions [n, 3] of their vertices, -1 where a vertex is not on the lash ring)."""
    topo = topology()
    margin, _, lid_list = lids.chains()
    face = topo.triangles[: topo.n_face]
    out = []
    for n, (a, b, pos) in enumerate(lid_list):
        lash = topo.lash + np.asarray(pos)
        edge = np.concatenate([lash, margin[pos], [a, b]])  # the lash strip's own vertices
        sel = np.nonzero(np.isin(face, lash).any(1) & ~np.isin(face, edge).all(1))[0]
        k = face[sel] - topo.lash
        out.append((n, sel, np.where((k >= 0) & (k < len(margin)), k, -1)))
    return tuple(out)


def plan_skin(ids: np.ndarray, stretch: np.ndarray, dst_ext: np.ndarray) -> list[SkinDraw]:
    """Skin layers of one frame from the triangle id map [H, W], the lash-ring band stretch
    [K] (:func:`petra.generators.mesh.render.lids.band_stretch`) and the extended output
    points [P, 2] (the layers' windows); no gradients."""
    draws = []
    for lid, tris, k in skin_triangles():
        s = np.where(k >= 0, stretch[np.maximum(k, 0)], np.nan)
        u = np.clip((np.nanmean(s, 1) - SKIN_FROM) / (SKIN_FULL - SKIN_FROM), 0.0, 1.0)
        a = (u * u * (3 - 2 * u)).astype(np.float32)
        if (a > 0.01).any() and (win := triangle_weights(ids, tris, a, dst_ext, AA_SIGMA)) is not None:
            draws.append(SkinDraw(lid, *win))
    return draws


def triangle_weights(ids: np.ndarray, tris: np.ndarray, weights: Any, dst_ext: np.ndarray,
                     soften: float = 0.0) -> tuple[int, int, np.ndarray] | None:
    """(y0, x0, [h, w] float32) per-pixel weights of the triangles ``tris`` [n] (``weights``:
    one per triangle, or one for all; 0 elsewhere) in the window their output points
    (``dst_ext`` [P, 2]) span; None when that window is empty.

    The id map gives each pixel one triangle, so a layer's edge is a staircase, which a
    paste-back into a larger photo enlarges into visible steps; ``soften`` (Gaussian sigma,
    px) anti-aliases it outward, the window grown to hold the blur: the maximum of the
    weights and their blur, so a thin layer (the lash line of a shut eye, 1-2 px) keeps its
    full weight along its core and only gains a soft fringe."""
    import cv2

    topo = topology()
    h, w = ids.shape
    pad = int(np.ceil(3 * soften)) if soften > 0 else 0
    pts = dst_ext[topo.triangles[tris]].reshape(-1, 2)
    x0, y0 = np.maximum(np.floor(pts.min(0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(pts.max(0)).astype(int) + 1 + pad, (w, h))
    if x1 <= x0 or y1 <= y0:
        return None
    table = np.zeros(len(topo.triangles) + 1, np.float32)  # ids == -1 picks the trailing 0
    table[tris] = weights
    alpha = table[ids[y0:y1, x0:x1]]
    if pad:
        alpha = np.maximum(alpha, cv2.GaussianBlur(alpha, (2 * pad + 1, 2 * pad + 1), soften,
                                                   borderType=cv2.BORDER_CONSTANT))
    return int(y0), int(x0), alpha


def skin_maps(src_pts: Any, out_pts: Any, draw: SkinDraw) -> tuple[Any, Any]:
    """Plate coordinates (map_x, map_y) [h, w] of a skin window (numpy or torch meshes [>=468, >=2]):
    the output pixel taken back by the lid's rigid motion (next ring + eye corners, output -> target)."""
    xp = _xp(out_pts)
    _, outer, lid_list = lids.chains()
    a, b, pos = lid_list[draw.lid]
    anchors = np.concatenate([outer[pos], [a, b]])
    ca, cb, t = similarity_2d(out_pts[anchors, :2], src_pts[anchors, :2])
    h, w = draw.alpha.shape
    if xp is np:
        ys, xs = np.mgrid[draw.y0:draw.y0 + h, draw.x0:draw.x0 + w].astype(np.float64)
    else:
        import torch

        ys, xs = torch.meshgrid(torch.arange(draw.y0, draw.y0 + h, dtype=out_pts.dtype, device=out_pts.device),
                                torch.arange(draw.x0, draw.x0 + w, dtype=out_pts.dtype, device=out_pts.device),
                                indexing="ij")
    return ca * xs - cb * ys + t[0], cb * xs + ca * ys + t[1]
