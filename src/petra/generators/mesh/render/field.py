"""The dense backward sampling field of the mesh warp, shared by both renderers.

The warp is piecewise affine over an *extended* triangulation: the 898 face
triangles plus rings of triangles around the face oval that carry the head's motion
onto hair, ears and neck (rigidly above the chin, bending below it) and fade it to
zero toward the image border (a last ring
far outside the image stays still). Each output pixel takes the affine map of the
front-most output triangle covering it, so:

- visibility (which triangle owns a pixel) is decided without gradients: rings and
  back-facing face triangles first, then the front-facing face triangles with a
  per-pixel depth test (z-buffer, :mod:`.zbuffer`), into an integer id map
  (:func:`rasterize_ids`);
- the per-triangle affine maps (:func:`triangle_affines`) and the extension rings
  (:func:`extend_points`) are plain array math that runs unchanged on numpy arrays
  (the fast path) and torch tensors (the differentiable path), so both renderers
  build the same field.

Coordinates are pixel indices ``(x, y)`` of the image the mesh lives in.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numba import njit

from petra.geometry.canonical import N_MESH, canonical_face

from . import lids
from .lids import _xp

# Extension rings: (radial factor from the face centre, motion weight above the chin
# (forehead, hair, ears), motion weight below it (neck), share of the oval's own
# (non-rigid) motion vs the head's rigid 2D motion). Hair and ears move with the head
# as one piece; the neck bends, so shoulders stay.
RINGS = ((1.3, 1.0, 1.0, 0.5), (1.75, 1.0, 0.55, 0.2), (2.5, 0.6, 0.12, 0.0))
FAR = 4.0                 # the still outer ring: this many image sides from the face (outside any image)
BORDER_MARGIN = 0.08      # fraction of the image side over which motion fades to zero


@dataclass(frozen=True)
class Topology:
    """Fixed triangulation of the extended vertex set (mesh + rings)."""

    triangles: np.ndarray  # [T, 3] int
    n_face: int            # the first n_face triangles are face triangles (culled, depth-sorted)
    oval: np.ndarray       # [36] oval vertex indices, in loop order
    n_points: int          # 468 + 36 * (len(RINGS) + 1) + the lash ring (lids.py)
    lash: int              # index of the first lash-ring vertex
    mirror: np.ndarray     # [n_points] mirror twin of each vertex (rings: themselves)


@lru_cache(maxsize=1)
def topology() -> Topology:
    cf = canonical_face()
    oval = cf.loops["oval"]
    n = len(oval)
    rings = [oval] + [N_MESH + k * n + np.arange(n) for k in range(len(RINGS) + 1)]
    tris = []
    for a, b in zip(rings[:-1], rings[1:]):
        for i in range(n):
            j = (i + 1) % n
            tris += [(a[i], a[j], b[i]), (a[j], b[j], b[i])]
    # ring triangles are listed inner first; the renderer draws them outer first
    base = N_MESH + n * (len(RINGS) + 1)
    face, lash_mirror = lids.refine(cf.triangles, base)
    mirror = np.concatenate([cf.mirror, np.arange(N_MESH, base), lash_mirror])
    return Topology(np.concatenate([face, np.array(tris)]), len(face), oval, len(mirror), base, mirror)


def similarity_2d(src: Any, dst: Any) -> tuple[Any, Any, Any]:
    """Closed-form least-squares 2D similarity dst ~ [[a, -b], [b, a]] src + t (array-agnostic)."""
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    den = (s * s).sum() + 1e-9
    a = (s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1]).sum() / den
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / den
    t = md - _xp(src).stack([a * ms[0] - b * ms[1], b * ms[0] + a * ms[1]])
    return a, b, t


def _apply_sim(a: Any, b: Any, t: Any, p: Any) -> Any:
    xp = _xp(p)
    return xp.stack([a * p[:, 0] - b * p[:, 1], b * p[:, 0] + a * p[:, 1]], 1) + t


def border_weight(p: Any, size: tuple[int, int]) -> Any:
    """Smooth 0..1 weight: 0 on/outside the image border, 1 beyond the fade margin."""
    xp = _xp(p)
    h, w = size
    d = xp.minimum(xp.minimum(p[:, 0], w - 1 - p[:, 0]), xp.minimum(p[:, 1], h - 1 - p[:, 1]))
    u = xp.clip(d / (BORDER_MARGIN * max(h, w)), 0.0, 1.0)
    return u * u * (3 - 2 * u)


@lru_cache(maxsize=8)
def border_image(size: tuple[int, int]) -> np.ndarray:
    """[H, W] float32 :func:`border_weight` of every pixel: the field's displacement is
    multiplied by it, so the warp is exactly still on the image border."""
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    return border_weight(np.stack([xs.ravel(), ys.ravel()], 1), size).reshape(h, w).astype(np.float32)


def extend_points(src: Any, dst: Any, size: tuple[int, int]) -> tuple[Any, Any]:
    """Add the extension rings to 2D meshes ``src`` (texture) and ``dst`` (output) [>=468, 2].

    Rings are placed radially around the *source* face and moved by a blend of the
    oval's displacement and the rigid 2D head motion, scaled down ring by ring and by
    :func:`border_weight`, so the field is continuous across the oval (no seam) and
    still at the border; the lash ring of the lids (:mod:`.lids`) comes last.
    Returns ([P, 2], [P, 2]) with P = :attr:`Topology.n_points`.
    """
    xp = _xp(src)
    cf = canonical_face()
    topo = topology()
    src2, dst2 = src[:N_MESH, :2], dst[:N_MESH, :2]
    o_s, o_d = src2[topo.oval], dst2[topo.oval]
    centre = o_s.mean(0)
    a, b, t = similarity_2d(src2[cf.rigid], dst2[cf.rigid])
    d_oval = o_d - o_s
    # how far each oval direction points toward the chin (0: above, 1: below), in the target face
    down = src2[152] - src2[10]
    down = down / (((down ** 2).sum()) ** 0.5 + 1e-9)
    radial = o_s - centre
    cos = (radial * down).sum(1) / (((radial ** 2).sum(1)) ** 0.5 + 1e-9)
    u = xp.clip((cos - 0.2) / 0.6, 0.0, 1.0)
    below = u * u * (3 - 2 * u)
    ps, pd = [src2], [dst2]
    for f, w_up, w_low, share in RINGS:
        ring = centre + f * (o_s - centre)
        rigid = _apply_sim(a, b, t, ring) - ring
        w = (w_up + (w_low - w_up) * below)[:, None]
        disp = w * (share * d_oval + (1 - share) * rigid) * border_weight(ring, size)[:, None]
        ps.append(ring)
        pd.append(ring + disp)
    far = centre + FAR * max(size) * (o_s - centre) / (((o_s - centre) ** 2).sum(1) ** 0.5 + 1e-6)[:, None]
    ps.append(far)
    pd.append(far)
    ls, ld = lids.lash_points(src2, dst2, (a * a + b * b) ** 0.5)
    ps.append(ls)
    pd.append(ld)
    return xp.concatenate(ps, 0), xp.concatenate(pd, 0)


def extend_depth(z: np.ndarray) -> np.ndarray:
    """Per-vertex depth [P] of the extended points from the mesh's [>=468] (rings: 0)."""
    topo = topology()
    return np.concatenate([z[:N_MESH], np.zeros(topo.lash - N_MESH), lids.lash_depth(z)])


def triangle_affines(src: Any, dst: Any, triangles: np.ndarray, src_triangles: np.ndarray | None = None) -> Any:
    """[T, 6] affine maps (a00, a01, a02, a10, a11, a12) taking dst triangle -> src triangle.

    ``src_triangles`` (default: ``triangles``) may name other source vertices for a
    triangle (the mirror twin of a triangle hidden in the target). Degenerate
    destination triangles get a clamped determinant (they own no pixels; the clamp
    keeps gradients finite).
    """
    xp = _xp(src)
    s = src[triangles if src_triangles is None else src_triangles]
    d = dst[triangles]  # [T, 3, 2]
    x0, y0 = d[:, 0, 0], d[:, 0, 1]
    e1x, e1y = d[:, 1, 0] - x0, d[:, 1, 1] - y0
    e2x, e2y = d[:, 2, 0] - x0, d[:, 2, 1] - y0
    det = e1x * e2y - e2x * e1y
    sign = xp.where(det < 0, -1.0, 1.0) if xp is np else (det < 0).to(det.dtype) * -2 + 1
    det = sign * xp.clip(xp.abs(det), 1e-6, None)
    # barycentric (l1, l2) of p: l1 = (e2y*(x-x0) - e2x*(y-y0))/det, l2 = (-e1y*(x-x0) + e1x*(y-y0))/det
    u1x, u1y = s[:, 1, 0] - s[:, 0, 0], s[:, 1, 1] - s[:, 0, 1]
    u2x, u2y = s[:, 2, 0] - s[:, 0, 0], s[:, 2, 1] - s[:, 0, 1]
    cx = (u1x * e2y - u2x * e1y) / det  # d src_x / d x
    cy = (-u1x * e2x + u2x * e1x) / det  # d src_x / d y
    ex = (u1y * e2y - u2y * e1y) / det
    ey = (-u1y * e2x + u2y * e1x) / det
    a02 = s[:, 0, 0] - cx * x0 - cy * y0
    a12 = s[:, 0, 1] - ex * x0 - ey * y0
    return xp.stack([cx, cy, a02, ex, ey, a12], 1)


def signed_area(pts: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Twice the signed area of each triangle in image coordinates (y down)."""
    p = pts[triangles]
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    return e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]


def draw_order(dst: np.ndarray, depth: np.ndarray, topo: Topology | None = None) -> tuple[np.ndarray, int]:
    """Triangle indices to draw: outer rings, back-facing, then front-facing face triangles;
    returns (order, number of front-facing triangles at its end, which are depth-tested).

    ``dst`` [P, 2] extended output points; ``depth`` [P] their z (smaller = closer; :func:`extend_depth`).
    Face triangles are outward-oriented, i.e. clockwise in image coordinates when they
    face the camera; within each group they are drawn far-to-near.
    """
    topo = topo or topology()
    face = topo.triangles[: topo.n_face]
    area = signed_area(dst, face)
    z = depth[face].mean(1)
    front = np.nonzero(area < -1e-3)[0]
    back = np.nonzero(area >= -1e-3)[0]
    # Back-facing triangles go first: a front-facing one always wins where both are, but
    # where a fold leaves no front-facing cover (lip corners, nose wings turning away)
    # the folded triangle's map is better than a hole.
    ring = np.arange(topo.n_face, len(topo.triangles))[::-1]
    order = np.concatenate([ring, back[np.argsort(-z[back], kind="stable")],
                            front[np.argsort(-z[front], kind="stable")]])
    return order, len(front)


def rasterize_ids(dst: np.ndarray, order: np.ndarray, triangles: np.ndarray, size: tuple[int, int],
                  depth: np.ndarray | None = None, n_ztest: int = 0) -> np.ndarray:
    """Integer map [H, W] of the triangle owning each pixel (-1: none), drawn in ``order``;
    the last ``n_ztest`` triangles are depth-tested per pixel with ``depth`` [P]."""
    from .zbuffer import rasterize

    return rasterize(dst, triangles, order, size, depth, n_ztest)


def dense_field_np(aff: np.ndarray, ids: np.ndarray, x0: int = 0, y0: int = 0,
                   fade: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Backward maps (map_x, map_y) [H, W] float32 from per-triangle affines and the id map.

    ``ids`` may be a window of the output whose top-left pixel is (x0, y0); ``fade``
    (whole images only) scales the displacement by :func:`border_image`. Pixels no
    triangle owns map to themselves. One compiled pass (:func:`_gather`).
    """
    h, w = ids.shape
    wb = border_image((h, w)) if (x0, y0) == (0, 0) and fade else np.ones((1, 1), np.float32)
    return _gather(np.ascontiguousarray(aff, dtype=np.float32), ids, x0, y0, wb)


@njit(cache=True, nogil=True)
def _gather(aff: np.ndarray, ids: np.ndarray, x0: int, y0: int,
            wb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    h, w = ids.shape
    mx = np.empty((h, w), np.float32)
    my = np.empty((h, w), np.float32)
    fade = wb.shape[0] == h and wb.shape[1] == w
    for y in range(h):
        fy = np.float32(y + y0)
        for x in range(w):
            fx = np.float32(x + x0)
            k = ids[y, x]
            if k < 0:
                mx[y, x], my[y, x] = fx, fy
                continue
            u = aff[k, 0] * fx + aff[k, 1] * fy + aff[k, 2]
            v = aff[k, 3] * fx + aff[k, 4] * fy + aff[k, 5]
            if fade:
                u = fx + (u - fx) * wb[y, x]
                v = fy + (v - fy) * wb[y, x]
            mx[y, x], my[y, x] = u, v
    return mx, my


def dense_field_torch(aff: Any, ids: np.ndarray, x0: int = 0, y0: int = 0, fade: bool = False) -> Any:
    """Torch version of :func:`dense_field_np`: returns [H, W, 2] (x, y), differentiable in ``aff``."""
    import torch

    h, w = ids.shape
    eye = torch.tensor([[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]], dtype=aff.dtype, device=aff.device)
    table = torch.cat([aff, eye], 0)
    idx = torch.from_numpy(np.where(ids < 0, table.shape[0] - 1, ids).astype(np.int64)).to(aff.device)
    c = table[idx]  # [H, W, 6]
    ys, xs = torch.meshgrid(torch.arange(y0, y0 + h, dtype=aff.dtype, device=aff.device),
                            torch.arange(x0, x0 + w, dtype=aff.dtype, device=aff.device), indexing="ij")
    mx = c[..., 0] * xs + c[..., 1] * ys + c[..., 2]
    my = c[..., 3] * xs + c[..., 4] * ys + c[..., 5]
    if (x0, y0) == (0, 0) and fade:
        wb = torch.from_numpy(border_image((h, w))).to(aff.device, aff.dtype)
        mx = xs + (mx - xs) * wb
        my = ys + (my - ys) * wb
    return torch.stack([mx, my], -1)
