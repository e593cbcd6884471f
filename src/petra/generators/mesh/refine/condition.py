"""The refinement net's inputs: base, target, and how the driver's mouth and eyes *changed*.

The driver's regions are what the warp of the *target* cannot know (teeth, how the lips
part, creases, the lids' shading). Each region (mouth, right eye, left eye) of a driving
image is brought onto the output mesh by the similarity that maps its landmarks onto
the output's, so a driver of another face shape still lands where the output's mouth
and eyes are.

Why a change and not the driver's appearance: on self-reenactment pairs the driver is the
ground truth, so a net shown the driver's eyes and mouth learns to copy them, and on another
person's clip that copy is an identity leak (the driver's iris brightness, beard, lip shape
painted into the target: benchmarks/refine_identity.py). The net sees instead the driver's
luma minus that of the driver's *reference* frame (the face relative mode measures motion
from, brought onto the same output regions): what the expression did, not who made it; an
identical frame gives zero. Without a reference (absolute mode, a single driving image) the
channel is zero. Only luma enters, scaled by the driver's own spread inside the regions: lip
and skin colour are the driver's identity, and the colour must come from the target.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from petra.geometry.canonical import LIPS_OUTER, canonical_face

# the encoding of the net's inputs; checkpoints record it and one made for other inputs is refused
# (a net trained on the driver's regions themselves reads a region change as garbage)
INPUTS = "region-change-1"

REGION_DILATE = 0.035  # region masks grow by this fraction of the crop side
REGION_BLUR = 0.02     # and are feathered over this fraction


@lru_cache(maxsize=1)
def _regions() -> tuple[tuple[str, np.ndarray], ...]:
    loops = canonical_face().loops
    return (("mouth", LIPS_OUTER), ("eye_right", loops["eye_right"]), ("eye_left", loops["eye_left"]))


def _odd(n: float) -> int:
    k = max(3, int(round(n)))
    return k if k % 2 else k + 1


def region_masks(out_pts: np.ndarray, size: int) -> list[np.ndarray]:
    """One float32 ``[S, S]`` mask in [0, 1] per region, dilated and feathered."""
    kd = _odd(REGION_DILATE * size)
    kb = _odd(REGION_BLUR * size)
    masks = []
    for _, idx in _regions():
        m = np.zeros((size, size), np.uint8)
        cv2.fillPoly(m, [np.round(out_pts[idx, :2]).astype(np.int32)], 255)
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kd, kd)))
        masks.append(cv2.GaussianBlur(m, (kb, kb), 0).astype(np.float32) / 255.0)
    return masks


def driver_regions(driving: np.ndarray, drv_pts: np.ndarray, out_pts: np.ndarray, size: int,
                   masks: list[np.ndarray] | None = None, gray: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(driver luma uint8 ``[S, S]``, region mask uint8 ``[S, S]``) on the output mesh.

    ``drv_pts``: the driver's mesh in ``driving``'s pixels; ``out_pts``: the output mesh in
    crop pixels; ``masks`` (:func:`region_masks` of ``out_pts``) and ``gray`` (``driving`` in
    grey) when the caller has them.
    """
    if gray is None:
        gray = cv2.cvtColor(np.ascontiguousarray(driving), cv2.COLOR_RGB2GRAY)
    luma = np.zeros((size, size), np.float32)
    total = np.zeros((size, size), np.float32)
    for (_, idx), m in zip(_regions(), region_masks(out_pts, size) if masks is None else masks):
        a, _ = cv2.estimateAffinePartial2D(drv_pts[idx, :2].astype(np.float32), out_pts[idx, :2].astype(np.float32),
                                           method=cv2.LMEDS)
        if a is None:
            continue
        warped = cv2.warpAffine(gray, a, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        luma += warped.astype(np.float32) * m
        total += m
    mask = np.clip(total, 0.0, 1.0)
    luma = np.where(total > 1e-3, luma / np.maximum(total, 1e-3), 0.0)
    return np.round(luma).astype(np.uint8), np.round(mask * 255.0).astype(np.uint8)


def regions_with_reference(driving: np.ndarray, drv_pts: np.ndarray, out_pts: np.ndarray, size: int,
                           reference: tuple[np.ndarray, np.ndarray] | None
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(driver luma, region mask, reference luma or None) on the output mesh: :func:`driver_regions`
    of the driving frame and of the driver's reference view (image, mesh), when there is one."""
    masks = region_masks(out_pts, size)
    luma, mask = driver_regions(driving, drv_pts, out_pts, size, masks)
    if reference is None:
        return luma, mask, None
    return luma, mask, driver_regions(reference[0], reference[1], out_pts, size, masks, _reference_gray(reference[0]))[0]


_REF_GRAY: list[tuple[np.ndarray, np.ndarray]] = []  # (the reference image itself, its grey): one entry


def _reference_gray(image: np.ndarray) -> np.ndarray:
    """The reference view in grey, converted once per reference (not once per frame): the entry
    holds the image itself, so an identity check cannot match a new array at a reused id."""
    if not _REF_GRAY or _REF_GRAY[0][0] is not image:
        _REF_GRAY[:] = [(image, cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY))]
    return _REF_GRAY[0][1]


def region_change(luma: np.ndarray, ref_luma: np.ndarray | None, mask: np.ndarray) -> np.ndarray:
    """(driver luma − reference luma) inside the regions, over the driver's spread there (×mask),
    float32; zeros without a reference. Works on ``[..., S, S]`` batches (statistics per image)."""
    if ref_luma is None:
        return np.zeros(np.shape(luma), np.float32)
    m = mask.astype(np.float32) / 255.0
    y = luma.astype(np.float32) / 255.0
    r = ref_luma.astype(np.float32) / 255.0
    w = m.sum(axis=(-2, -1), keepdims=True) + 1e-3
    mean = (y * m).sum(axis=(-2, -1), keepdims=True) / w
    std = np.sqrt((((y - mean) ** 2) * m).sum(axis=(-2, -1), keepdims=True) / w) + 0.05
    return ((y - r) / std * 0.5 * m).astype(np.float32)


def net_input(base: np.ndarray, target: np.ndarray, luma: np.ndarray, mask: np.ndarray,
              ref_luma: np.ndarray | None) -> np.ndarray:
    """``[8, S, S]`` float32: base and target in [-1, 1], the driver's region change, region mask."""
    def rgb(a: np.ndarray) -> np.ndarray:
        return a.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0

    return np.concatenate([rgb(base), rgb(target), region_change(luma, ref_luma, mask)[None],
                           (mask.astype(np.float32) / 255.0)[None]], axis=0)
