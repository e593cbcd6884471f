"""The mouth interior: what shows when the output opens a mouth the target keeps closed.

Warping alone would stretch the thin line between the target's closed lips over the
whole opening. Instead, when the output's inner-lip opening is clearly larger than
the target's, the interior (teeth, tongue, dark cavity) is taken from the driving
frame: the driving frame's mouth-fill triangles are mapped onto the output's,
colour-matched to the target by the ratio of the two faces' skin colour (globally:
brightness, colour, saturation) and locally (a brightness plane fitted to the ratio of
the two faces' skin in a ring around the mouth, so a target lit from one side gets an
interior lit from that side), and composited inside the output inner-lip contour with a
soft, slightly eroded mask, so the target's own lips (warped by the mesh, never
stretched across the gap) frame it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from petra.geometry.canonical import LIPS_OUTER, canonical_face

# Skin sample points around the mouth and on the cheeks (colour matching).
SKIN = np.array([205, 425, 36, 266, 199, 175, 18, 200, 50, 280, 101, 330, 147, 376, 123, 352])
# Skin ring just outside the lips (local colour matching).
RING = np.array([57, 43, 106, 182, 83, 18, 313, 406, 335, 273, 287, 410, 322, 391, 393, 164, 167, 165, 92, 186])
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
SHADE_MAX = 0.3  # the local brightness plane varies by at most +-this across the mouth


@lru_cache(maxsize=1)
def mouth_triangles() -> np.ndarray:
    """Triangles of the inner-lip fill and of the lips themselves (indices into the face triangles)."""
    cf = canonical_face()
    lips = np.concatenate([LIPS_OUTER, cf.loops["mouth_inner"]])
    return np.nonzero(np.all(np.isin(cf.triangles, lips), axis=1))[0]


def opening(pts: np.ndarray) -> float:
    """Inner-lip area divided by the squared mouth width (0 = closed)."""
    loop = pts[canonical_face().loops["mouth_inner"], :2]
    x, y = loop[:, 0], loop[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    width = np.linalg.norm(pts[61, :2] - pts[291, :2])
    return float(area / max(width * width, 1e-6))


def _patches(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Mean RGB [N, 3] of 5x5 patches at points [N, >=2] (NaN outside the image)."""
    h, w = img.shape[:2]
    xy = np.round(pts[:, :2]).astype(int)
    ok = (xy[:, 0] >= 2) & (xy[:, 0] < w - 2) & (xy[:, 1] >= 2) & (xy[:, 1] < h - 2)
    out = np.full((len(xy), 3), np.nan, np.float32)
    if ok.any():
        d = np.arange(-2, 3)
        ys = (xy[ok, 1][:, None, None] + d[None, :, None])
        xs = (xy[ok, 0][:, None, None] + d[None, None, :])
        out[ok] = img[ys, xs].reshape(int(ok.sum()), -1, 3).mean(1)
    return out


def skin_colour(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Mean RGB of 5x5 patches at the skin sample points inside the image (float32 [3])."""
    c = _patches(img, pts[SKIN])
    ok = np.isfinite(c[:, 0])
    return c[ok].mean(0).astype(np.float32) if ok.any() else np.full(3, 128.0, np.float32)


def ring_luma(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Luminance [20] of the skin ring around the mouth (NaN outside the image)."""
    return _patches(img, pts[RING]) @ LUMA


def local_shade(ring_tgt: np.ndarray, ring_drv: np.ndarray, out_pts: np.ndarray, x0: int, y0: int,
                shape: tuple[int, int]) -> np.ndarray | None:
    """[h, w] brightness modulation (mean 1) of the interior layer over its box at (x0, y0):
    a plane fitted to the target/driver skin luminance ratio around the mouth, placed at
    the ring's output positions, divided by its value at the mouth centre."""
    ratio = (ring_tgt + 1.0) / (ring_drv + 1.0)
    ok = np.isfinite(ratio)
    if ok.sum() < 6:
        return None
    xy = out_pts[RING[ok], :2]
    c = xy.mean(0)
    a = np.c_[np.ones(int(ok.sum())), xy - c]
    coef, *_ = np.linalg.lstsq(a, ratio[ok], rcond=None)
    if coef[0] <= 1e-3:
        return None
    h, w = shape
    gx, gy = coef[1] / coef[0], coef[2] / coef[0]
    xs = np.arange(x0, x0 + w, dtype=np.float32)[None, :] - c[0]
    ys = np.arange(y0, y0 + h, dtype=np.float32)[:, None] - c[1]
    return np.clip(1.0 + gx * xs + gy * ys, 1.0 - SHADE_MAX, 1.0 + SHADE_MAX).astype(np.float32)


def colour_gain(skin_tgt: np.ndarray, skin_drv: np.ndarray, chroma: float = 0.3) -> np.ndarray:
    """Per-channel gain taking the driving interior toward the target's lighting.

    Brightness follows the skin ratio fully, colour only partly (``chroma``): teeth stay
    white and the tongue red even when the two faces are lit very differently.
    """
    l_ratio = (float(skin_tgt @ LUMA) + 1.0) / (float(skin_drv @ LUMA) + 1.0)
    ratio = (skin_tgt + 1.0) / (skin_drv + 1.0)
    return np.clip(l_ratio * (ratio / l_ratio) ** chroma, 0.6, 1.6).astype(np.float32)


def drive_weight(open_out: float, open_tgt: float) -> float:
    """0 -> keep the target's own interior, 1 -> use the driving frame's (smooth in between)."""
    u = np.clip((open_out - 1.15 * open_tgt - 0.004) / 0.03, 0.0, 1.0)
    return float(u * u * (3 - 2 * u))


@dataclass(frozen=True)
class MouthDraw:
    """The driving-interior layer of one frame, restricted to a bounding box of the output."""

    y0: int
    x0: int
    ids: np.ndarray    # [h, w] int32: face-triangle index per pixel (-1: none)
    alpha: np.ndarray  # [h, w] float32 compositing weight
    gain: np.ndarray   # [3] float32 colour gain (target skin / driving skin)
    saturation: float  # chroma kept after the gain (a grey-scale target gets a grey interior)
    shade: np.ndarray | None = None  # [h, w] float32 local brightness modulation (mean 1)


def plan_mouth(out_pts: np.ndarray, drv_pts: np.ndarray, drv_img: np.ndarray, open_tgt: float,
               skin_tgt: np.ndarray, size: tuple[int, int], ring_tgt: np.ndarray | None = None) -> MouthDraw | None:
    """Decide and rasterise the mouth layer (no gradients); None when the target's interior suffices."""
    import cv2

    weight = drive_weight(opening(out_pts), open_tgt)
    if weight <= 0.0:
        return None
    cf = canonical_face()
    h, w = size
    tris_idx = mouth_triangles()
    tris = cf.triangles[tris_idx]
    lips = out_pts[np.unique(tris), :2]
    x0, y0 = (np.floor(lips.min(0)).astype(int) - 3).tolist()
    x1, y1 = (np.ceil(lips.max(0)).astype(int) + 4).tolist()
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    shift = np.array([x0, y0], np.float64)
    ids = np.full((y1 - y0, x1 - x0), -1, np.int32)
    for k, tri in zip(tris_idx.tolist(), np.round((out_pts[tris, :2] - shift) * 16).astype(np.int32)):
        cv2.fillConvexPoly(ids, tri, k, cv2.LINE_8, 4)
    inner = np.zeros(ids.shape, np.uint8)
    poly = np.round((out_pts[cf.loops["mouth_inner"], :2] - shift) * 16).astype(np.int32)
    cv2.fillPoly(inner, [poly], 255, cv2.LINE_8, 4)
    inner = cv2.erode(inner, np.ones((3, 3), np.uint8))
    alpha = cv2.GaussianBlur(inner.astype(np.float32) / 255.0, (5, 5), 1.0) * weight
    skin_drv = skin_colour(drv_img, drv_pts)
    gain = colour_gain(skin_tgt, skin_drv)
    sat = float(np.clip(_saturation(skin_tgt) / max(_saturation(skin_drv), 1e-3), 0.0, 1.0))
    shade = None if ring_tgt is None else local_shade(ring_tgt, ring_luma(drv_img, drv_pts), out_pts, x0, y0,
                                                      ids.shape)
    return MouthDraw(y0, x0, ids, alpha.astype(np.float32), gain, sat, shade)


def _saturation(rgb: np.ndarray) -> float:
    return float((rgb.max() - rgb.min()) / max(float(rgb.max()), 1.0))


def grade(layer: object, gain: np.ndarray, saturation: float, shade: np.ndarray | None = None) -> object:
    """Colour-grade the driving interior [h, w, 3] (numpy) or [3, h, w] (torch): gain and the
    local brightness ``shade`` [h, w], then chroma."""
    if isinstance(layer, np.ndarray):
        g = layer * gain if shade is None else layer * gain * shade[..., None]
        lum = (g @ LUMA)[..., None]
        return lum + saturation * (g - lum)
    import torch

    gt = torch.as_tensor(gain, dtype=layer.dtype, device=layer.device).reshape(3, *([1] * (layer.dim() - 1)))
    g = layer * gt
    if shade is not None:
        g = g * torch.as_tensor(shade, dtype=layer.dtype, device=layer.device)[None]
    w = torch.as_tensor(LUMA, dtype=layer.dtype, device=layer.device).reshape(3, *([1] * (layer.dim() - 1)))
    lum = (g * w).sum(0, keepdim=True)
    return lum + saturation * (g - lum)
