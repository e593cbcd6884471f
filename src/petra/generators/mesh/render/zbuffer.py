"""Triangle rasterisation with a per-pixel depth test (z-buffer), compiled with numba.

Drawing whole triangles far-to-near (painter's order by mean depth) decides visibility
per triangle: where a long triangle spans depth (the side of the nose, a lip turned
toward the camera, a cheek folding behind the nose on a turned head) the wrong one can
win over part of its area, and the face looks flat. Here each front-facing face
triangle is tested per pixel against the depth interpolated inside it, so the nearer
surface owns every pixel. Triangles that carry no depth (the extension rings around
the face, back-facing face triangles) are drawn first in the given order and always
lose to a front-facing one, as before.

Coverage: pixel centres (integer coordinates) inside or on a triangle, scanline by
scanline (cost grows with the covered area, not the bounding boxes).
"""
from __future__ import annotations

import numpy as np
from numba import njit

EPS = 1e-7  # barycentric tolerance: pixel centres on a shared edge belong to both triangles


@njit(cache=True, nogil=True)
def _raster(xy: np.ndarray, z: np.ndarray, ids_out: np.ndarray, ztest: np.ndarray,
            height: int, width: int) -> np.ndarray:  # pragma: no cover - compiled
    ids = np.full((height, width), -1, np.int32)
    zbuf = np.full((height, width), np.inf)
    for k in range(xy.shape[0]):
        x0, y0 = xy[k, 0, 0], xy[k, 0, 1]
        x1, y1 = xy[k, 1, 0], xy[k, 1, 1]
        x2, y2 = xy[k, 2, 0], xy[k, 2, 1]
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if abs(area) < 1e-9:
            continue
        # barycentric l_i(x, y) = (a_i x + b_i y + c_i) / area, one per vertex
        a0, b0, c0 = y1 - y2, x2 - x1, x1 * y2 - x2 * y1
        a1, b1, c1 = y2 - y0, x0 - x2, x2 * y0 - x0 * y2
        a2, b2, c2 = y0 - y1, x1 - x0, x0 * y1 - x1 * y0
        ylo = max(0, int(np.ceil(min(y0, y1, y2) - 1e-9)))
        yhi = min(height - 1, int(np.floor(max(y0, y1, y2) + 1e-9)))
        xmin = max(0.0, min(x0, x1, x2))
        xmax = min(width - 1.0, max(x0, x1, x2))
        tid = ids_out[k]
        zt = ztest[k]
        sgn = 1.0 if area > 0 else -1.0
        tol = EPS * abs(area)
        for y in range(ylo, yhi + 1):
            lo, hi = xmin, xmax
            empty = False
            for a, b, c in ((a0, b0, c0), (a1, b1, c1), (a2, b2, c2)):
                # l(x) = (a x + b y + c) / area >= -EPS  <=>  aa x + rr >= 0
                aa = sgn * a
                rr = sgn * (b * y + c) + tol
                if abs(aa) < 1e-12:
                    if rr < 0:
                        empty = True
                elif aa > 0:
                    lo = max(lo, -rr / aa)
                else:
                    hi = min(hi, -rr / aa)
            if empty or hi < lo:
                continue
            xs, xe = int(np.ceil(lo - 1e-9)), int(np.floor(hi + 1e-9))
            for x in range(max(xs, 0), min(xe, width - 1) + 1):
                if zt:
                    l0 = (a0 * x + b0 * y + c0) / area
                    l1 = (a1 * x + b1 * y + c1) / area
                    d = l0 * z[k, 0] + l1 * z[k, 1] + (1.0 - l0 - l1) * z[k, 2]
                    if d < zbuf[y, x]:
                        zbuf[y, x] = d
                        ids[y, x] = tid
                else:
                    zbuf[y, x] = np.inf
                    ids[y, x] = tid
    return ids


def rasterize(points: np.ndarray, triangles: np.ndarray, order: np.ndarray, size: tuple[int, int],
              depth: np.ndarray | None = None, n_ztest: int = 0) -> np.ndarray:
    """Triangle-id map [H, W] int32 (-1: no triangle).

    ``points`` [P, 2] pixel coordinates, ``triangles`` [T, 3], ``order``: the triangle
    indices to draw, in drawing order; the last ``n_ztest`` of them are depth-tested
    against each other with ``depth`` [P] (smaller = nearer) and always cover the rest.
    """
    tri = triangles[order]
    xy = np.ascontiguousarray(points[tri][..., :2], dtype=np.float64)
    z = np.zeros(tri.shape, np.float64) if depth is None else np.ascontiguousarray(depth[tri], dtype=np.float64)
    ztest = np.zeros(len(order), np.bool_)
    if n_ztest:
        ztest[len(order) - n_ztest:] = True
    return _raster(xy, z, np.ascontiguousarray(order, dtype=np.int32), ztest, int(size[0]), int(size[1]))
