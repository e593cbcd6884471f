"""How a random identity's face sits on its host: numbers for a visible seam.

Both are measured on the shape-free texture (the frontal image every pose and
expression is warped from), along a fixed polygon: the mean frontal face oval shrunk
to 0.9 around its centre and cut a little above the brows, which is where the
face is pasted into the host frame. They do not depend on how the blend is done, so
they compare blends:

* :func:`seam_step`: mean CIE Lab distance (ΔE76) between a thin band just inside
  and one just outside the polygon, per angular sector (a mask seam is a step all
  around, while a global average would cancel opposite sides);
* :func:`brightness_gap`: |L*| of the inner face minus that of the host's skin just
  outside the polygon (a pasted face lighter or darker than the forehead/neck).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

BAND = (2.0, 10.0)  # band distances from the polygon edge, in texture px at 256 (scaled with the size)
SECTORS = 24


def blend_polygon(points: np.ndarray) -> np.ndarray:
    """[K, 2] float: the oval of ``points`` (mean frontal mesh, px) shrunk to 0.9, cut above the brows."""
    from petra.geometry.canonical import canonical_face

    pts = points[canonical_face().loops["oval"], :2]
    ctr = pts.mean(0)
    poly = ctr + (pts - ctr) * 0.9
    brow_y = points[[105, 334], 1].mean()
    eye_y = points[[33, 263], 1].mean()
    poly[:, 1] = np.maximum(poly[:, 1], brow_y - 0.8 * (eye_y - brow_y))
    return poly


def polygon_mask(points: np.ndarray, size: int) -> np.ndarray:
    """[S, S] uint8, 1 inside :func:`blend_polygon` of ``points``: the one rasterisation that the
    blend (mask, offset, brightness bump) and these measures share."""
    import cv2

    inside = np.zeros((size, size), np.uint8)
    cv2.fillPoly(inside, [np.round(blend_polygon(points)).astype(np.int32)], 1)
    return inside


def inner_ramp(inside: np.ndarray, width: float) -> np.ndarray:
    """[S, S] float: 0 on the edge of ``inside``, rising smoothly (smoothstep) to 1 at ``width`` px inside."""
    import cv2

    t = np.clip(cv2.distanceTransform(inside, cv2.DIST_L2, 5) / width, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@lru_cache(maxsize=4)
def _bands(points_key: bytes, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inner band, outer band, sector index) [S, S] for the polygon of a mesh (cached by its bytes)."""
    import cv2

    points = np.frombuffer(points_key, np.float64).reshape(-1, 3)
    poly = blend_polygon(points)
    inside = polygon_mask(points, size)
    d_in = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    d_out = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
    lo, hi = (b * size / 256.0 for b in BAND)
    inner = (d_in > lo) & (d_in <= hi)
    outer = (d_out > lo) & (d_out <= hi)
    yy, xx = np.mgrid[:size, :size]
    ctr = poly.mean(0)
    ang = np.arctan2(yy - ctr[1], xx - ctr[0])
    sector = ((ang + np.pi) / (2 * np.pi) * SECTORS).astype(np.int64) % SECTORS
    return inner, outer, sector


def _lab(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _sector_means(lab: np.ndarray, band: np.ndarray, sector: np.ndarray) -> dict[int, np.ndarray]:
    out = {}
    for k in range(SECTORS):
        a = band & (sector == k)
        if a.sum() >= 10:
            out[k] = lab[a].mean(0)
    return out


def seam_step(texture: np.ndarray, host: np.ndarray, points: np.ndarray) -> float:
    """Mean over angular sectors of the Lab ΔE of the step (inner band - outer band) that the blend adds
    to the host's own step there (the host's anatomy: brows, jaw shadow, is not a seam)."""
    inner, outer, sector = _bands(np.ascontiguousarray(points, np.float64).tobytes(), texture.shape[0])
    lab, lab_h = _lab(texture), _lab(host)
    ti, to = _sector_means(lab, inner, sector), _sector_means(lab, outer, sector)
    hi, ho = _sector_means(lab_h, inner, sector), _sector_means(lab_h, outer, sector)
    steps = [float(np.linalg.norm((ti[k] - to[k]) - (hi[k] - ho[k]))) for k in ti if k in to]
    return float(np.mean(steps)) if steps else 0.0


def brightness_gap(texture: np.ndarray, host: np.ndarray, points: np.ndarray) -> float:
    """|(L* of the inner face - L* of the skin just outside) minus the host's own difference|:
    a face pasted lighter or darker than the forehead/neck around it."""
    import cv2

    _, outer, _ = _bands(np.ascontiguousarray(points, np.float64).tobytes(), texture.shape[0])
    core = cv2.erode(polygon_mask(points, texture.shape[0]), np.ones((15, 15), np.uint8)).astype(bool)
    lab, lab_h = _lab(texture), _lab(host)
    own = lab[core, 0].mean() - lab[outer, 0].mean()
    ref = lab_h[core, 0].mean() - lab_h[outer, 0].mean()
    return float(abs(own - ref))


__all__ = ["blend_polygon", "brightness_gap", "inner_ramp", "polygon_mask", "seam_step"]
