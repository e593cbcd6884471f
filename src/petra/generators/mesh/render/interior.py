"""Layers taken from the driving frame: what the target cannot show (a mouth interior, an eyeball).

A piecewise-affine warp can only stretch what the target photo has. Where the output opens
something the target keeps closed (a mouth, :mod:`.mouth`; an eye photographed mid-blink,
:mod:`.eyefill`), the renderer instead maps the driving frame's pixels of that opening
through the opening's own mesh triangles (driving mesh -> output mesh), colour-grades them
toward the target (:func:`colour_gain`, :func:`grade`) and composites them with a soft mask
inside the output contour (:class:`InteriorDraw`). Both renderers consume the same draws:
:func:`composite_np` (``cv2.remap``) and :func:`composite_torch` (``grid_sample``,
differentiable in the image and both meshes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from petra.geometry.canonical import canonical_face
from .field import dense_field_np, dense_field_torch, triangle_affines

# Skin sample points around the mouth and on the cheeks (global colour matching).
SKIN = np.array([205, 425, 36, 266, 199, 175, 18, 200, 50, 280, 101, 330, 147, 376, 123, 352])
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
RESTORE_AMOUNT = 1.0  # unsharp-mask gain of :func:`restore` (1: the blurred detail added back once)
GREY_SKIN, COLOUR_SKIN = 0.04, 0.12  # skin saturation of a grey-scale photo / from which a photo is in colour


@dataclass(frozen=True)
class InteriorDraw:
    """One driving-frame layer of one frame, restricted to a bounding box of the output."""

    y0: int
    x0: int
    ids: np.ndarray    # [h, w] int32: face-triangle index per pixel (-1: none)
    alpha: np.ndarray  # [h, w] float32 compositing weight
    gain: np.ndarray   # [3] float32 colour gain (target skin / driving skin)
    saturation: float  # chroma kept after the gain (a grey-scale target gets a grey interior)
    shade: np.ndarray | None = None  # [h, w] float32 local brightness modulation (mean 1)
    shift: np.ndarray | None = None  # [478, 2] offsets (px) added to the driving mesh before sampling
    sharpen: float = 0.0  # sigma (output px) of the upsampling blur to undo (:func:`restore`); 0: none


def patch_means(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
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


def skin_colour(img: np.ndarray, pts: np.ndarray, idx: np.ndarray = SKIN) -> np.ndarray:
    """Mean RGB of 5x5 patches at the skin sample points ``idx`` inside the image (float32 [3])."""
    c = patch_means(img, pts[idx])
    ok = np.isfinite(c[:, 0])
    return c[ok].mean(0).astype(np.float32) if ok.any() else np.full(3, 128.0, np.float32)


def colour_gain(skin_tgt: np.ndarray, skin_drv: np.ndarray, chroma: float = 0.3) -> np.ndarray:
    """Per-channel gain taking a driving-frame layer toward the target's lighting.

    Brightness follows the skin ratio fully, colour only partly (``chroma``): teeth and
    the whites of the eyes stay white, the tongue red, even when the two faces are lit
    very differently.
    """
    l_ratio = (float(skin_tgt @ LUMA) + 1.0) / (float(skin_drv @ LUMA) + 1.0)
    ratio = (skin_tgt + 1.0) / (skin_drv + 1.0)
    return np.clip(l_ratio * (ratio / l_ratio) ** chroma, 0.6, 1.6).astype(np.float32)


def saturation(rgb: np.ndarray) -> float:
    """Chroma of one colour: (max - min) / max."""
    return float((rgb.max() - rgb.min()) / max(float(rgb.max()), 1.0))


def saturation_kept(skin_tgt: np.ndarray, skin_drv: np.ndarray) -> float:
    """Share of the driving layer's chroma to keep (<= 1).

    A grey-scale target (a black-and-white photo, skin saturation under :data:`GREY_SKIN`)
    gets a grey interior: the target skin's saturation over the driver's. Any colour photo
    (from :data:`COLOUR_SKIN`) keeps the interior's colour: a tongue is red on pale skin too
    (the plain ratio greyed a ruddy driver's mouth to 43 % chroma on a pale target).
    """
    st = saturation(skin_tgt)
    ratio = st / max(saturation(skin_drv), 1e-3)
    u = float(np.clip((st - GREY_SKIN) / (COLOUR_SKIN - GREY_SKIN), 0.0, 1.0))
    return float(np.clip(max(ratio, u * u * (3 - 2 * u)), 0.0, 1.0))


def grade(layer: Any, gain: np.ndarray, saturation: float, shade: np.ndarray | None = None) -> Any:
    """Colour-grade a driving layer [h, w, 3] (numpy) or [3, h, w] (torch): gain and the
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


def _gauss_kernel(sigma: float) -> np.ndarray:
    import cv2

    r = max(1, int(np.ceil(2.5 * sigma)))
    return cv2.getGaussianKernel(2 * r + 1, sigma).astype(np.float32).ravel()


def restore(layer: Any, sigma: float, amount: float = RESTORE_AMOUNT) -> Any:
    """Undo the blur of sampling a small driving face at a larger output size.

    A driver mouth ``k`` times smaller than the output's carries about ``0.7 k`` output
    pixels of blur (camera blur plus bilinear upsampling; ``sigma`` is what exceeds the
    output's own, :func:`petra.generators.mesh.render.mouth.deblur_sigma`): its dark cavity
    fades into the lips over several pixels. An unsharp mask of ``sigma`` restores the edge, and
    clamping each channel to its range in the neighbourhood (radius ``sigma``) keeps it
    from overshooting into halos. ``layer``: [h, w, 3] numpy or [3, h, w] torch.
    """
    k = _gauss_kernel(sigma)
    r = max(1, int(round(sigma)))
    if isinstance(layer, np.ndarray):
        import cv2

        blur = cv2.sepFilter2D(layer, -1, k, k, borderType=cv2.BORDER_REFLECT_101)
        box = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
        lo, hi = cv2.erode(layer, box), cv2.dilate(layer, box)
        return np.minimum(np.maximum(layer + amount * (layer - blur), lo), hi)
    import torch
    import torch.nn.functional as F

    kt = torch.as_tensor(k, dtype=layer.dtype, device=layer.device)
    n = len(k) // 2
    x = layer[:, None]
    x = F.conv2d(F.pad(x, (n, n, 0, 0), mode="reflect"), kt.reshape(1, 1, 1, -1))
    blur = F.conv2d(F.pad(x, (0, 0, n, n), mode="reflect"), kt.reshape(1, 1, -1, 1))[:, 0]
    hi = F.max_pool2d(layer[None], 2 * r + 1, 1, r)[0]
    lo = -F.max_pool2d(-layer[None], 2 * r + 1, 1, r)[0]
    return torch.minimum(torch.maximum(layer + amount * (layer - blur), lo), hi)


def rasterise(out_pts: np.ndarray, tris_idx: np.ndarray, loop: np.ndarray, weight: float,
              size: tuple[int, int], erode: bool = True) -> tuple[int, int, np.ndarray, np.ndarray] | None:
    """(y0, x0, ids [h, w] int32, alpha [h, w] float32) of a layer over the face triangles
    ``tris_idx`` of the output mesh ``out_pts`` [478, >=2], in the box they span (+3 px):
    ids = the triangle per pixel (-1: none); alpha = ``weight`` x the contour polygon
    ``loop`` (vertex indices), with ``erode`` shrunk by a pixel, and blurred (sigma 1 px), so
    the layer stays inside the output contour and the target's own rim frames it. None
    when the box is empty."""
    import cv2

    cf = canonical_face()
    h, w = size
    tris = cf.triangles[tris_idx]
    pts = out_pts[np.unique(tris), :2]
    x0, y0 = (np.floor(pts.min(0)).astype(int) - 3).tolist()
    x1, y1 = (np.ceil(pts.max(0)).astype(int) + 4).tolist()
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    shift = np.array([x0, y0], np.float64)
    ids = np.full((y1 - y0, x1 - x0), -1, np.int32)
    for k, tri in zip(tris_idx.tolist(), np.round((out_pts[tris, :2] - shift) * 16).astype(np.int32)):
        cv2.fillConvexPoly(ids, tri, k, cv2.LINE_8, 4)
    inner = np.zeros(ids.shape, np.uint8)
    cv2.fillPoly(inner, [np.round((out_pts[loop, :2] - shift) * 16).astype(np.int32)], 255, cv2.LINE_8, 4)
    if erode:
        inner = cv2.erode(inner, np.ones((3, 3), np.uint8))
    alpha = cv2.GaussianBlur(inner.astype(np.float32) / 255.0, (5, 5), 1.0) * weight
    return y0, x0, ids, alpha.astype(np.float32)


def composite_np(img: np.ndarray, d: InteriorDraw, driving: np.ndarray, driving_pts: np.ndarray,
                 out_pts: np.ndarray) -> None:
    """Draw layer ``d`` from ``driving`` [H', W', 3] uint8 (mesh ``driving_pts``) into ``img`` [H, W, 3] uint8, in place."""
    import cv2

    src = driving_pts[:, :2] if d.shift is None else driving_pts[:, :2] + d.shift
    aff = triangle_affines(src, out_pts[:, :2], canonical_face().triangles)
    dx, dy = dense_field_np(aff, d.ids, d.x0, d.y0)
    layer = cv2.remap(driving, dx, dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    if d.sharpen > 0.0:
        layer = restore(layer, d.sharpen)
    h, w = d.ids.shape
    region = img[d.y0:d.y0 + h, d.x0:d.x0 + w].astype(np.float32)
    a = d.alpha[..., None]
    mixed = region * (1.0 - a) + np.clip(grade(layer, d.gain, d.saturation, d.shade), 0, 255) * a
    img[d.y0:d.y0 + h, d.x0:d.x0 + w] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def composite_torch(img: Any, d: InteriorDraw, driving: Any, driving_pts: Any, out_pts: Any, sample: Any) -> Any:
    """Torch twin of :func:`composite_np`: ``img`` / ``driving`` [3, H, W] float tensors, meshes
    [478, >=2] tensors, ``sample(image, map_x, map_y)`` the renderer's bilinear sampler;
    returns the new image (differentiable in ``img``, ``driving`` and both meshes)."""
    import torch

    src = driving_pts[:, :2]
    if d.shift is not None:
        src = src + torch.as_tensor(d.shift, dtype=src.dtype, device=src.device)
    aff = triangle_affines(src, out_pts[:, :2], canonical_face().triangles)
    f = dense_field_torch(aff, d.ids, d.x0, d.y0)
    layer = sample(driving, f[..., 0], f[..., 1])
    hi = 255.0 if float(driving.detach().max()) > 1.5 else 1.0
    if d.sharpen > 0.0:
        layer = restore(layer, d.sharpen)
    layer = grade(layer, d.gain, d.saturation, d.shade).clamp(0.0, hi)
    a = torch.as_tensor(d.alpha, dtype=img.dtype, device=img.device)[None]
    h, w = d.ids.shape
    region = img[:, d.y0:d.y0 + h, d.x0:d.x0 + w]
    img = img.clone()
    img[:, d.y0:d.y0 + h, d.x0:d.x0 + w] = region * (1 - a) + layer * a
    return img
