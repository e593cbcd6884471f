"""Eyelids that close: a lash line that keeps its width, lid skin that stretches.

MediaPipe's lid margin vertices sit on the lash line, within a pixel or two of the
iris and the white; the next ring of vertices is the lid skin 3-4 px (at 256 px) above
(below for the lower lid). A piecewise-affine warp that closes an eye stretches that
whole band linearly, so a thin strip around the margin (lashes, the top of the iris,
a sliver of white) is smeared over the closed eye, which then still reads as open.

Here each lid band is split by a *lash ring*: one vertex per margin vertex, a fixed
share (:data:`LASH`) of the way to the next ring in the target. In the output the lash
ring keeps its distance to the margin (scaled with the head), so the lash line moves
with the margin at its own width and only the lid skin above it stretches (closing)
or compresses (opening wider). The ring is derived from the mesh points by plain
array maths, so both renderers (numpy and torch) get the same, differentiable field.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from petra.geometry.canonical import N_MESH, canonical_face

# The subject's right eye (MediaPipe's rightEyeUpper0/1, rightEyeLower0/1), index-aligned;
# the left eye uses the mirror twins.
UPPER0 = (246, 161, 160, 159, 158, 157, 173)
UPPER1 = (247, 30, 29, 27, 28, 56, 190)
LOWER0 = (7, 163, 144, 145, 153, 154, 155)
LOWER1 = (25, 110, 24, 23, 22, 26, 112)
CORNERS = (33, 133)
LASH = 0.35      # share of the margin -> next-ring band that is lash line in the target
LASH_MAX = 0.8   # the lash ring never passes this share of the output band (eyes opened wide)
LASH_TOP = 0.85  # a closed lid: the lash line holds this share of the target band (the lid unrolls)
STRETCH_FULL = 2.0  # output band / target band at which the lid counts as fully unrolled


@lru_cache(maxsize=1)
def chains() -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, list[int]]]]:
    """(margin [K], outer [K], lids): the K = 28 lid margin vertices of both eyes, their
    partners in the next ring, and per lid (corner a, corner b, positions in the lists)."""
    m = canonical_face().mirror
    margin, outer, lids = [], [], []
    for mir in (False, True):
        for lid0, lid1 in ((UPPER0, UPPER1), (LOWER0, LOWER1)):
            a, b = CORNERS
            l0, l1 = list(lid0), list(lid1)
            if mir:
                a, b, l0, l1 = int(m[a]), int(m[b]), [int(m[v]) for v in l0], [int(m[v]) for v in l1]
            lids.append((a, b, list(range(len(margin), len(margin) + len(l0)))))
            margin += l0
            outer += l1
    return np.array(margin), np.array(outer), lids


def _xp(a: Any) -> Any:
    """The array module of ``a``: numpy for the fast renderer, torch for the differentiable one."""
    if isinstance(a, np.ndarray):
        return np
    import torch

    return torch


def _norm(v: Any) -> Any:
    return ((v ** 2).sum(1) + 1e-12) ** 0.5


def lash_points(src: Any, dst: Any, scale: Any) -> tuple[Any, Any]:
    """Lash-ring positions [K, 2] in the texture (``src``) and the output (``dst``).

    ``src`` / ``dst``: [>=468, 2] meshes; ``scale``: the head's 2D scale change
    (output / target), so the lash line keeps its width relative to the face. As a lid
    closes (its band stretches), the lash ring's texture position moves from
    :data:`LASH` to :data:`LASH_TOP` of the target band: the lash line gathers what lay
    just above the margin (lashes, liner, a sliver of iris) into a thin dark line, and
    the stretched lid shows the clean skin below the crease, as a lid that unrolls does.
    """
    xp = _xp(src)
    margin, outer, _ = chains()
    ms, rs, md, rd = src[margin], src[outer], dst[margin], dst[outer]
    len_s, len_d = _norm(rs - ms) * scale, _norm(rd - md)
    u = xp.clip((band_stretch(src, dst, scale) - 1.0) / (STRETCH_FULL - 1.0), 0.0, 1.0)
    lam = LASH + (LASH_TOP - LASH) * u * u * (3 - 2 * u)
    frac = xp.clip(LASH * len_s / len_d, 0.0, LASH_MAX)
    return ms + lam[:, None] * (rs - ms), md + frac[:, None] * (rd - md)


def band_stretch(src: Any, dst: Any, scale: Any) -> Any:
    """Output / target length [K] of each lid band (margin -> next ring), the head's 2D
    scale change divided out: > 1 as a lid closes (upper) or drops (lower)."""
    margin, outer, _ = chains()
    return _norm(dst[outer] - dst[margin]) / (_norm(src[outer] - src[margin]) * scale)


def lash_depth(z: np.ndarray) -> np.ndarray:
    """Depth [K] of the lash ring from per-vertex depth ``z`` [>=468]."""
    margin, outer, _ = chains()
    return z[margin] + LASH * (z[outer] - z[margin])


def refine(triangles: np.ndarray, base: int) -> tuple[np.ndarray, np.ndarray]:
    """Split the lid bands of the face triangles [T, 3] by the lash ring (vertex ``base + k``).

    Band triangles (margin, next ring, corners) get the lash vertex in place of each
    margin vertex; a strip margin -> lash ring is added per lid, oriented like the rest
    (counter-clockwise seen from the front). Returns (triangles [T + 56, 3], mirror of
    the lash vertices [K] as extended indices).
    """
    cf = canonical_face()
    margin, outer, lids = chains()
    sub = {int(v): base + k for k, v in enumerate(margin)}
    corners = {a for a, _, _ in lids} | {b for _, b, _ in lids}
    outer_corners = set(cf.mirror[[130, 243]].tolist()) | {130, 243}
    band = set(margin.tolist()) | set(outer.tolist()) | corners | outer_corners
    tris = triangles.copy()
    for t in range(len(tris)):
        vs = tris[t].tolist()
        if set(vs) <= band and set(vs) & (set(outer.tolist()) | outer_corners):
            tris[t] = [sub.get(v, v) for v in vs]
    canon = np.zeros((base + len(margin), 3))
    canon[:N_MESH] = cf.vertices
    canon[base:] = cf.vertices[margin] + LASH * (cf.vertices[outer] - cf.vertices[margin])
    new = []
    for a, b, pos in lids:
        top = [a] + [int(margin[p]) for p in pos] + [b]
        low = [a] + [base + p for p in pos] + [b]
        for i in range(len(top) - 1):
            if i > 0:
                new.append((top[i], top[i + 1], low[i]))
            if i < len(top) - 2:
                new.append((low[i], top[i + 1], low[i + 1]))
    new = np.array(new)
    p = canon[new][:, :, :2]
    area = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0])
    new[area < 0] = new[area < 0][:, ::-1]
    mirror_of = {int(v): k for k, v in enumerate(margin)}
    lash_mirror = np.array([base + mirror_of[int(cf.mirror[v])] for v in margin])
    return np.concatenate([tris, new]), lash_mirror
