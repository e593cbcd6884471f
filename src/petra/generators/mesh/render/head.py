"""Whole-head motion over a still background: the person layer and the background plate.

The mesh warp moves hair, ears and neck with the head (the extension rings of
:mod:`petra.generators.mesh.render.field`), but a warp also drags the background next to the head
along, and where the head moves away it can only smear what was there. So the
output is composited from two layers, prepared once per target:

- the **person layer**: a soft person alpha (MediaPipe selfie segmentation, re-estimated
  by closed-form matting in a band around its edge, so semi-transparent hair keeps its
  alpha) and the person's own *foreground* colour there (``pymatting``'s multilevel
  foreground estimation): an edge pixel of the target is ``alpha * F + (1 - alpha) * B``,
  and the background share ``(1 - alpha) * B`` (the *spill*) must not travel with the head;
- the **background plate**: the target with the person painted out (``cv2.inpaint``
  at low resolution, upsampled), what motion reveals.

Where the warp moves pixels, the output is the carried person over the plate,
``alpha_c * F_c + (1 - alpha_c) * plate`` (``_c``: sampled where the warp samples the
target); no band of old background follows the hair. Only pixels the warp moves are
composited (a smooth weight of the displacement), so a still frame reproduces the
target exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from petra.io import quiet_native_stderr
from .field import border_image

PLATE_SIDE = 128     # the inpainting runs at this resolution (the revealed strips are thin)
MOVED_PX = (0.25, 1.5)  # displacement (px) over which a pixel goes from "still" to "moved"
EDGE_BAND = 0.04     # matting band each side of the segmentation edge, fraction of the image side
SOLID = 0.999        # alpha from which a pixel is all person (no spill)
EDGE_SOFT = 0.5      # Gaussian sigma (px per 256 px of side) softening the matte's jagged edge


@dataclass(frozen=True)
class HeadLayer:
    """Per-target person alpha, its background spill and the background plate (crop resolution)."""

    alpha: np.ndarray    # [H, W] float32 0..1, soft person alpha (matted at the edge, not grown)
    spill: np.ndarray    # [H, W, 3] float32 the target's own background in each pixel: I - alpha * F
    plate: np.ndarray    # [H, W, 3] uint8 background with the person painted out


def person_mask(rgb: np.ndarray) -> np.ndarray:
    """Soft person mask [H, W] float32 (MediaPipe selfie segmentation, general model)."""
    import mediapipe as mp

    with quiet_native_stderr(), mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        m = seg.process(np.ascontiguousarray(rgb)).segmentation_mask
    return np.clip(m, 0.0, 1.0).astype(np.float32)


def edge_trimap(person: np.ndarray, band: float = EDGE_BAND) -> np.ndarray:
    """Trimap [H, W] float64 (1 person, 0 background, 0.5 unknown) from a soft mask: a band of
    ``band`` x the image side each side of its 0.5 level is left to the matting."""
    import cv2

    k = max(3, int(band * max(person.shape)) | 1)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    inside = (person > 0.5).astype(np.uint8)
    tri = np.full(person.shape, 0.5)
    tri[cv2.erode(inside, disk) > 0] = 1.0
    tri[cv2.dilate(inside, disk) == 0] = 0.0
    return tri


def matte(rgb: np.ndarray, person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Person alpha [H, W] float32 and foreground colour [H, W, 3] float32 (0..1) of ``rgb``.

    The segmentation is blurry and a few pixels off at hair; closed-form matting (Levin et
    al. 2008) re-estimates alpha from the colours in a band around its edge, then the
    multilevel foreground estimate (Germer et al. 2020) gives the person's colour where
    alpha < 1. Without both a person and a background (nothing to separate) the mask is kept.
    """
    import cv2
    from pymatting import estimate_alpha_cf, estimate_foreground_ml

    img = rgb.astype(np.float64) / 255.0
    tri = edge_trimap(person)
    alpha = person.astype(np.float64)
    if (tri == 1.0).any() and (tri == 0.0).any() and (tri == 0.5).any():
        cf = estimate_alpha_cf(img, tri)
        if np.isfinite(cf).all():
            alpha = cv2.GaussianBlur(cf, (0, 0), EDGE_SOFT * max(cf.shape) / 256)
    fg = estimate_foreground_ml(img, alpha)
    return alpha.astype(np.float32), np.clip(fg, 0.0, 1.0).astype(np.float32)


def background_plate(rgb: np.ndarray, person: np.ndarray) -> np.ndarray:
    """[H, W, 3] uint8: ``rgb`` with the person (soft mask > 0.2, grown) inpainted at low resolution."""
    import cv2

    h, w = rgb.shape[:2]
    k = max(3, (max(h, w) // 100) | 1)
    hole = (cv2.dilate((person > 0.2).astype(np.uint8), np.ones((3 * k, 3 * k), np.uint8)) > 0)
    scale = PLATE_SIDE / max(h, w)
    small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    if small_hole.all():  # nothing to fill from: a grey plate
        filled = np.full_like(small, int(rgb.mean()))
    else:
        filled = cv2.inpaint(small, small_hole * 255, 5, cv2.INPAINT_TELEA)
    big = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(np.where(hole[..., None], big, rgb))


def prepare_head(rgb: np.ndarray, person: np.ndarray | None = None) -> HeadLayer:
    """Person alpha, spill and background plate of a target [H, W, 3] uint8.

    ``person``: its soft segmentation mask when the caller has it (:func:`person_mask`).
    """
    p = person_mask(rgb) if person is None else person.astype(np.float32)
    alpha, fg = matte(rgb, p)
    spill = rgb.astype(np.float32) - (255.0 * alpha)[..., None] * fg
    spill[alpha >= SOLID] = 0.0
    plate = background_plate(rgb, np.maximum(p, alpha))
    return HeadLayer(np.ascontiguousarray(alpha), np.ascontiguousarray(spill), plate)


def composite(layer: HeadLayer, img: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
    """Put the warped person ``img`` over the plate where the warp ``(mx, my)`` moved pixels.

    out = img + moved * ((1 - alpha_c) * plate - spill_c), one compiled pass
    (:func:`_composite`): where ``img`` is the warped target, ``alpha_c * F_c + (1 - alpha_c)
    * plate`` (the old background removed, the plate put under the semi-transparent
    edge); inside the person (alpha 1) the warped image, with its mouth and eye layers,
    is kept. Samples outside the image (the atlas strip of the iris patches) count as
    person. Near the crop border the field fades out and squeezes whatever crosses it
    (hair, a hat): that is no reveal, so the border weight keeps the warped pixels there.
    """
    return _composite(img, layer.plate, layer.alpha, layer.spill, mx, my, border_image(mx.shape),
                      MOVED_PX[0], MOVED_PX[1])


@njit(cache=True, nogil=True, fastmath=True)
def _composite(img: np.ndarray, plate: np.ndarray, alpha: np.ndarray, spill: np.ndarray, mx: np.ndarray,
               my: np.ndarray, border: np.ndarray, lo: float, hi: float) -> np.ndarray:  # pragma: no cover - compiled
    h, w = mx.shape
    out = img.copy()
    lo32, inv = np.float32(lo), np.float32(1.0 / (hi - lo))
    wm, hm = np.float32(w - 1), np.float32(h - 1)
    one, zero, solid = np.float32(1.0), np.float32(0.0), np.float32(SOLID)
    for y in range(h):
        fy0 = np.float32(y)
        for x in range(w):
            u, v = mx[y, x], my[y, x]
            d = abs(u - np.float32(x)) + abs(v - fy0)
            if d <= lo32 or not (zero <= u <= wm and zero <= v <= hm):
                continue  # still, or outside the image (iris atlas): person
            a = min((d - lo32) * inv, one) * border[y, x]
            if a <= zero:
                continue
            # bilinear weights at (u, v)
            x0, y0 = int(u), int(v)
            x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
            fx, fy = u - np.float32(x0), v - np.float32(y0)
            w00, w01 = (one - fy) * (one - fx), (one - fy) * fx
            w10, w11 = fy * (one - fx), fy * fx
            carried = w00 * alpha[y0, x0] + w01 * alpha[y0, x1] + w10 * alpha[y1, x0] + w11 * alpha[y1, x1]
            if carried >= solid:
                continue
            for c in range(3):
                s = w00 * spill[y0, x0, c] + w01 * spill[y0, x1, c] + w10 * spill[y1, x0, c] + w11 * spill[y1, x1, c]
                p = np.float32(img[y, x, c])
                val = p + a * ((one - carried) * np.float32(plate[y, x, c]) - s) + np.float32(0.5)
                out[y, x, c] = np.uint8(min(max(val, zero), np.float32(255.0)))
    return out
