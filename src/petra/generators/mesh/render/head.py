"""Whole-head motion over a still background: the person layer and the background plate.

The mesh warp moves hair, ears and neck with the head (the extension rings of
:mod:`petra.generators.mesh.render.field`), but a warp also drags the background next to the head
along, and where the head moves away it can only smear what was there. So the
output is composited from two layers, prepared once per target:

- the **person layer**: the warped target, weighted by the person mask (MediaPipe
  selfie segmentation of the target) carried through the same warp, so the mask
  moves exactly with the head;
- the **background plate**: the target with the person painted out (``cv2.inpaint``
  at low resolution, upsampled), what motion reveals.

Only pixels the warp moves are composited (a smooth weight of the displacement), so
a still frame reproduces the target exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from petra.io import quiet_native_stderr

PLATE_SIDE = 128     # the inpainting runs at this resolution (the revealed strips are thin)
MOVED_PX = (0.25, 1.5)  # displacement (px) over which a pixel goes from "still" to "moved"


@dataclass(frozen=True)
class HeadLayer:
    """Per-target person mask and background plate (crop resolution)."""

    person: np.ndarray   # [H, W] float32 0..1, soft person mask (slightly grown: hair wisps)
    plate: np.ndarray    # [H, W, 3] uint8 background with the person painted out


def person_mask(rgb: np.ndarray) -> np.ndarray:
    """Soft person mask [H, W] float32 (MediaPipe selfie segmentation, general model)."""
    import mediapipe as mp


    with quiet_native_stderr(), mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        m = seg.process(np.ascontiguousarray(rgb)).segmentation_mask
    return np.clip(m, 0.0, 1.0).astype(np.float32)


def prepare_head(rgb: np.ndarray, person: np.ndarray | None = None) -> HeadLayer:
    """Person mask and background plate of a target [H, W, 3] uint8."""
    import cv2

    h, w = rgb.shape[:2]
    p = person_mask(rgb) if person is None else person.astype(np.float32)
    k = max(3, (max(h, w) // 100) | 1)
    grown = cv2.dilate(p, np.ones((k, k), np.uint8))
    hole = (cv2.dilate((p > 0.2).astype(np.uint8), np.ones((3 * k, 3 * k), np.uint8)) > 0)
    scale = PLATE_SIDE / max(h, w)
    small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    if small_hole.all():  # nothing to fill from: a grey plate
        filled = np.full_like(small, int(rgb.mean()))
    else:
        filled = cv2.inpaint(small, small_hole * 255, 5, cv2.INPAINT_TELEA)
    big = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
    plate = np.where(hole[..., None], big, rgb)
    return HeadLayer(grown, np.ascontiguousarray(plate))


def composite(layer: HeadLayer, img: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
    """Put the warped person ``img`` over the plate where the warp ``(mx, my)`` moved pixels.

    out = img + moved * (1 - carried person mask) * (plate - img), one compiled pass
    (:func:`_composite`); samples outside the image (the atlas strip of the iris patches)
    count as person. Near the crop border the field fades out and squeezes whatever
    crosses it (hair, a hat): that is no reveal, so the border weight keeps the warped
    pixels there.
    """
    from .field import border_image

    return _composite(img, layer.plate, layer.person, mx, my, border_image(mx.shape), MOVED_PX[0], MOVED_PX[1])


@njit(cache=True, nogil=True, fastmath=True)
def _composite(img: np.ndarray, plate: np.ndarray, person: np.ndarray, mx: np.ndarray, my: np.ndarray,
               border: np.ndarray, lo: float, hi: float) -> np.ndarray:  # pragma: no cover - compiled
    h, w = mx.shape
    out = img.copy()
    lo32, inv = np.float32(lo), np.float32(1.0 / (hi - lo))
    wm, hm = np.float32(w - 1), np.float32(h - 1)
    one, zero = np.float32(1.0), np.float32(0.0)
    for y in range(h):
        fy0 = np.float32(y)
        for x in range(w):
            u, v = mx[y, x], my[y, x]
            d = abs(u - np.float32(x)) + abs(v - fy0)
            if d <= lo32:
                continue
            moved = min((d - lo32) * inv, one)
            # bilinear sample of the person mask at (u, v); outside the image: 1 (person)
            carried = one
            if zero <= u <= wm and zero <= v <= hm:
                x0, y0 = int(u), int(v)
                x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
                fx, fy = u - np.float32(x0), v - np.float32(y0)
                carried = ((one - fy) * ((one - fx) * person[y0, x0] + fx * person[y0, x1])
                           + fy * ((one - fx) * person[y1, x0] + fx * person[y1, x1]))
            a = moved * (one - carried) * border[y, x]
            if a <= zero:
                continue
            for c in range(3):
                p = np.float32(img[y, x, c])
                val = p + a * (np.float32(plate[y, x, c]) - p) + np.float32(0.5)
                out[y, x, c] = np.uint8(min(max(val, zero), np.float32(255.0)))
    return out
