"""Anti-aliasing where the turned face folds the hair ring under it.

The backward map is continuous inside each triangle and across shared edges, but where
the turned face covers the ring of hair and background beside it, neighbouring output
pixels sample texture several pixels apart: the skipped strip was the photo's own soft
transition between cheek and hair, so the edge comes out razor sharp and, being decided
per pixel by the id map, stair-stepped; a paste-back into a larger photo enlarges both
(a cut-out cheek against the hair). Those pixels (a jump of the map between a face
triangle and a ring triangle) take a small Gaussian blur of the render: the edge is as
soft as a photographed one. Jumps inside the face (the nose over the far cheek) are real
3D edges and stay as they are: softening them too made MediaPipe read 4 % less of the
head's turn on the hard-case turns. The iris patches (sampled from the atlas strip beyond
the image) have their own edge handling (:mod:`.eyes`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

JUMP = 3.0    # texture px between neighbouring output pixels (|dx| + |dy|) that makes an edge
SIGMA = 0.9   # px: the blur those pixels take
_TAPS = np.exp(-0.5 * (np.arange(-2, 3) / SIGMA) ** 2)
_TAPS /= _TAPS.sum()  # the 5-tap Gaussian of both renderers, built once


def seam_mask(mx: np.ndarray, my: np.ndarray, width: int, face: np.ndarray) -> np.ndarray:
    """[H, W] bool: output pixels beside a jump of the backward map (both sides of it) between
    a face pixel and a ring pixel (``face`` [H, W] bool: the pixel's triangle is a face
    triangle), not counting jumps into or out of the iris strip (``mx`` beyond ``width`` - 1)."""
    return _seam_mask(np.ascontiguousarray(mx, np.float32), np.ascontiguousarray(my, np.float32),
                      np.ascontiguousarray(face), np.float32(width - 1), np.float32(JUMP))


def face_pixels(ids: np.ndarray) -> np.ndarray:
    """[H, W] bool from the triangle id map: the pixel belongs to a face triangle (not a ring)."""
    from .field import topology

    return (ids >= 0) & (ids < topology().n_face)


def soften_seams(img: np.ndarray, mx: np.ndarray, my: np.ndarray, ids: np.ndarray) -> None:
    """In place: blur ``img`` [H, W, 3] uint8 at the map's face/ring jumps (:func:`seam_mask`;
    ``ids``: the frame's triangle id map), one compiled pass (the blur is computed at those
    pixels only)."""
    _blur_at(img, seam_mask(mx, my, img.shape[1], face_pixels(ids)), _TAPS.astype(np.float32))


@njit(cache=True, nogil=True)
def _seam_mask(mx: np.ndarray, my: np.ndarray, face: np.ndarray, last: np.float32, jump: np.float32
               ) -> np.ndarray:  # pragma: no cover - compiled
    h, w = mx.shape
    out = np.zeros((h, w), np.bool_)
    for y in range(h):
        for x in range(w):
            if mx[y, x] > last:
                continue
            if (x + 1 < w and face[y, x + 1] != face[y, x] and mx[y, x + 1] <= last
                    and abs(mx[y, x + 1] - mx[y, x]) + abs(my[y, x + 1] - my[y, x]) > jump):
                out[y, x] = True
                out[y, x + 1] = True
            if (y + 1 < h and face[y + 1, x] != face[y, x] and mx[y + 1, x] <= last
                    and abs(mx[y + 1, x] - mx[y, x]) + abs(my[y + 1, x] - my[y, x]) > jump):
                out[y, x] = True
                out[y + 1, x] = True
    return out


@njit(cache=True, nogil=True)
def _blur_at(img: np.ndarray, mask: np.ndarray, g: np.ndarray) -> None:  # pragma: no cover - compiled
    h, w = mask.shape
    r = len(g) // 2
    ys, xs = np.nonzero(mask)
    vals = np.empty((len(ys), 3), np.float32)
    for i in range(len(ys)):
        y, x = ys[i], xs[i]
        for c in range(3):
            acc = np.float32(0.0)
            for dy in range(-r, r + 1):
                yy = y + dy
                yy = -yy if yy < 0 else (2 * h - 2 - yy if yy >= h else yy)  # reflect-101, as cv2
                for dx in range(-r, r + 1):
                    xx = x + dx
                    xx = -xx if xx < 0 else (2 * w - 2 - xx if xx >= w else xx)
                    acc += g[dy + r] * g[dx + r] * np.float32(img[yy, xx, c])
            vals[i, c] = acc
    for i in range(len(ys)):  # written after all are read: the blur sees the unblurred image
        for c in range(3):
            img[ys[i], xs[i], c] = np.uint8(min(max(vals[i, c] + np.float32(0.5), np.float32(0.0)), np.float32(255.0)))


def soften_seams_torch(img: Any, mx: Any, my: Any, ids: np.ndarray) -> Any:
    """:func:`soften_seams` for a [3, H, W] tensor (the mask has no gradient; the blur does)."""
    import torch
    import torch.nn.functional as F

    mask = seam_mask(mx.detach().cpu().numpy(), my.detach().cpu().numpy(), img.shape[-1], face_pixels(ids))
    if not mask.any():
        return img
    k = torch.as_tensor(np.outer(_TAPS, _TAPS), dtype=img.dtype, device=img.device)[None, None].repeat(3, 1, 1, 1)
    blurred = F.conv2d(F.pad(img[None], (2, 2, 2, 2), mode="reflect"), k, groups=3)[0]
    return torch.where(torch.from_numpy(mask).to(img.device)[None], blurred, img)
