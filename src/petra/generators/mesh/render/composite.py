"""Pasting a rendered crop back into the full target image.

Only what moved is pasted: the soft mask is the (dilated, blurred) region where the
warp displaced pixels or a layer (iris, mouth) replaced them, times a feathered
border of the crop. Everything still keeps the original full-resolution pixels, so
the user gets their whole photo back, sharp, with no visible crop edge.
"""
from __future__ import annotations

import numpy as np


def motion_mask(mx: np.ndarray, my: np.ndarray, threshold: float = 0.15, grow: float = 0.03) -> np.ndarray:
    """Soft 0..1 mask [S, S] of the pixels the backward map moves by more than ``threshold`` px."""
    import cv2

    h, w = mx.shape
    disp = np.abs(mx - np.arange(w, dtype=np.float32)[None]) + np.abs(my - np.arange(h, dtype=np.float32)[:, None])
    hard = (disp > threshold).astype(np.uint8)
    k = max(3, int(grow * max(h, w)) | 1)
    hard = cv2.dilate(hard, np.ones((k, k), np.uint8))
    return cv2.GaussianBlur(hard.astype(np.float32), (0, 0), k / 3.0)


def border_feather(size: int, frac: float) -> np.ndarray:
    """[S, S] weight rising smoothly from 0 at the crop border to 1 at ``frac * size`` inside."""
    d = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32)
    u = np.clip(d / max(frac * size, 1.0), 0, 1)
    u = u * u * (3 - 2 * u)
    return np.minimum(u[None, :], u[:, None])


def paste_back(full: np.ndarray, crop: np.ndarray, src_to_crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Blend ``crop`` [S, S, 3] into ``full`` [H, W, 3] (uint8) where ``mask`` [S, S] says so.

    ``src_to_crop`` is the 2x3 affine from full-image pixel indices to crop pixel indices.
    """
    import cv2

    h, w = full.shape[:2]
    s = crop.shape[0]
    inv = cv2.invertAffineTransform(src_to_crop)
    corners = np.array([[0, 0, 1], [s, 0, 1], [0, s, 1], [s, s, 1]], np.float64) @ inv.T
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + 2, [w, h])
    if x1 <= x0 or y1 <= y0:
        return full.copy()
    m = src_to_crop.copy()
    m[:, 2] += m[:, 0] * x0 + m[:, 1] * y0  # window-local source coordinates
    size = (int(x1 - x0), int(y1 - y0))
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    layer = cv2.warpAffine(crop, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(mask.astype(np.float32), m, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    out = full.copy()
    win = out[y0:y1, x0:x1].astype(np.float32)
    a = alpha[..., None]
    out[y0:y1, x0:x1] = np.clip(win * (1 - a) + layer.astype(np.float32) * a + 0.5, 0, 255).astype(np.uint8)
    return out
