"""The mouth interior: what shows when the output opens a mouth the target keeps closed.

Warping alone would stretch the thin line between the target's closed lips over the
whole opening. Instead, when the output's inner-lip opening is clearly larger than
the target's, the interior (teeth, tongue, dark cavity) is taken from the driving
frame: the driving frame's mouth-fill triangles are mapped onto the output's,
colour-matched to the target by the ratio of the two faces' skin colour (globally:
brightness, colour, saturation) and locally (a brightness plane fitted to the ratio of
the two faces' skin in a ring around the mouth, so a target lit from one side gets an
interior lit from that side), and composited inside the output inner-lip contour with a
soft, slightly eroded mask, so the target's own lips (warped by the mesh, never stretched across the
gap) frame it.

A driver whose mouth is small in its frame (a wide shot: 10-20 px wide) has its cavity
blurred into its lips; upsampled onto the output's opening that blur becomes several
pixels of lip-coloured ramp, and the opening reads as lips, much less open than its
mesh. Two resolution-aware corrections keep the cavity dark up to the lips: the
interior is sampled from the driver's inner-lip contour pulled in by its blur width
(:func:`cavity_core`: the cavity's core, not the lip/cavity mixture at its rim), and the
upsampling blur is undone (:func:`deblur_sigma`,
:func:`petra.generators.mesh.render.interior.restore`). A driver whose mouth is as large
as the output's renders as before but for its inner-lip contour moved by under a pixel.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from petra.geometry.canonical import LIPS_OUTER, canonical_face
from petra.geometry.motion import LIP_INNER_LO, LIP_INNER_UP
from .interior import LUMA, InteriorDraw, colour_gain, patch_means, rasterise, saturation_kept, skin_colour

# Skin ring just outside the lips (local colour matching).
RING = np.array([57, 43, 106, 182, 83, 18, 313, 406, 335, 273, 287, 410, 322, 391, 393, 164, 167, 165, 92, 186])
SHADE_MAX = 0.3  # the local brightness plane varies by at most +-this across the mouth
DRIVER_BLUR = 0.7  # blur (sigma, driver px) of a driving face: camera blur plus bilinear resampling
MIN_SHARPEN = 0.3  # deblur sigmas (output px) below this change nothing visible: skipped
CORE_MAX = 0.25    # the driver's inner-lip contour is pulled in by at most this share of the lip gap, per lip


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
    w = width(pts)
    return float(area / max(w * w, 1e-6))


def ring_luma(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Luminance [20] of the skin ring around the mouth (NaN outside the image)."""
    return patch_means(img, pts[RING]) @ LUMA


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


def width(pts: np.ndarray) -> float:
    """Mouth corner distance (px)."""
    return float(np.linalg.norm(pts[61, :2] - pts[291, :2]))


def upscale(out_pts: np.ndarray, drv_pts: np.ndarray) -> float:
    """Output mouth width over driver mouth width: how much the interior is magnified."""
    return width(out_pts) / max(width(drv_pts), 1e-6)


def deblur_sigma(out_pts: np.ndarray, drv_pts: np.ndarray, shape: tuple[int, int]) -> float:
    """Sigma (output px) of the blur a driver mouth ``k`` times smaller than the output's
    carries beyond the output's own: the driver's blur scaled up, ``DRIVER_BLUR * k``, less
    the ``DRIVER_BLUR`` an output-sized driver would have (in quadrature), for
    :func:`petra.generators.mesh.render.interior.restore`. 0 when the driver's mouth is not
    smaller (continuous in ``k``); at most what the layer's box can hold."""
    k = upscale(out_pts, drv_pts)
    sigma = DRIVER_BLUR * float(np.sqrt(max(k * k - 1.0, 0.0)))
    return min(sigma, (min(shape) - 1) / 2.5) if sigma >= MIN_SHARPEN else 0.0


def cavity_core(drv_pts: np.ndarray) -> np.ndarray:
    """The driving mesh with its inner-lip contour pulled into the opening by the blur width.

    On a small driving face MediaPipe's inner-lip contour lies inside the blur between lip
    and cavity, so the pixels just inside it are lip mixed with cavity; mapping them onto
    the output's (larger, sharp) opening paints a lip-coloured band inside it. Sampling the
    opening from the contour pulled in by the blur width (:data:`DRIVER_BLUR` driver
    pixels, at most :data:`CORE_MAX` of the gap per lip) takes the cavity's core instead;
    on a large driving face the shift is a negligible share of the opening."""
    pts = drv_pts.copy()
    up, lo = drv_pts[LIP_INNER_UP, :2], drv_pts[LIP_INNER_LO, :2]
    d = lo - up
    n = np.linalg.norm(d, axis=1, keepdims=True)
    step = np.minimum(DRIVER_BLUR, CORE_MAX * n) * d / np.maximum(n, 1e-6)
    pts[LIP_INNER_UP, :2] += step
    pts[LIP_INNER_LO, :2] -= step
    return pts


def drive_weight(open_out: float, open_tgt: float) -> float:
    """0 -> keep the target's own interior, 1 -> use the driving frame's (smooth in between)."""
    u = np.clip((open_out - 1.15 * open_tgt - 0.004) / 0.03, 0.0, 1.0)
    return float(u * u * (3 - 2 * u))


def plan_mouth(out_pts: np.ndarray, drv_pts: np.ndarray, drv_img: np.ndarray, open_tgt: float,
               skin_tgt: np.ndarray, size: tuple[int, int], ring_tgt: np.ndarray | None = None) -> InteriorDraw | None:
    """Decide and rasterise the mouth layer (no gradients); None when the target's interior suffices."""
    weight = drive_weight(opening(out_pts), open_tgt)
    if weight <= 0.0:
        return None
    win = rasterise(out_pts, mouth_triangles(), canonical_face().loops["mouth_inner"], weight, size)
    if win is None:
        return None
    y0, x0, ids, alpha = win
    skin_drv = skin_colour(drv_img, drv_pts)
    gain = colour_gain(skin_tgt, skin_drv)
    shade = None if ring_tgt is None else local_shade(ring_tgt, ring_luma(drv_img, drv_pts), out_pts, x0, y0,
                                                      ids.shape)
    shift = (cavity_core(drv_pts) - drv_pts)[:, :2]
    return InteriorDraw(y0, x0, ids, alpha, gain, saturation_kept(skin_tgt, skin_drv), shade, shift,
                        deblur_sigma(out_pts, drv_pts, ids.shape))
