"""Anti-aliasing where the warp jumps: occlusion edges and folds.

The backward map is continuous inside each triangle and across shared edges, but where
one surface covers another (the nose over the far cheek, the turned face over the
hair ring it folds under) neighbouring output pixels sample texture several pixels
apart: the skipped strip was the photo's own soft transition, so the edge comes out
razor sharp and, being decided per pixel by the id map, stair-stepped; a paste-back
into a larger photo enlarges both (a cut-out cheek against the hair). Those pixels,
found from the map alone, take a small Gaussian blur of the render: the edge is as soft
as a photographed one. The iris patches (sampled from the atlas strip beyond the
image) have their own edge handling (:mod:`.eyes`) and are left alone.
"""
from __future__ import annotations

from typing import Any

import numpy as np

JUMP = 3.0    # texture px between neighbouring output pixels (|dx| + |dy|) that makes an edge
SIGMA = 0.9   # px: the blur those pixels take


def seam_mask(mx: np.ndarray, my: np.ndarray, width: int) -> np.ndarray:
    """[H, W] bool: output pixels beside a jump of the backward map (both sides of it), not
    counting jumps into or out of the iris strip (``mx`` beyond ``width`` - 1)."""
    strip = mx > width - 1
    mask = np.zeros(mx.shape, bool)
    for ax in (0, 1):
        step = np.abs(np.diff(mx, axis=ax)) + np.abs(np.diff(my, axis=ax))
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[ax], hi[ax] = slice(None, -1), slice(1, None)
        jump = (step > JUMP) & ~strip[tuple(lo)] & ~strip[tuple(hi)]
        mask[tuple(lo)] |= jump
        mask[tuple(hi)] |= jump
    return mask


def soften_seams(img: np.ndarray, mx: np.ndarray, my: np.ndarray) -> None:
    """In place: blur ``img`` [H, W, 3] uint8 at the map's jumps (:func:`seam_mask`)."""
    import cv2

    mask = seam_mask(mx, my, img.shape[1])
    if mask.any():
        img[mask] = cv2.GaussianBlur(img, (5, 5), SIGMA)[mask]


def soften_seams_torch(img: Any, mx: Any, my: Any) -> Any:
    """:func:`soften_seams` for a [3, H, W] tensor (the mask has no gradient; the blur does)."""
    import torch
    import torch.nn.functional as F

    mask = seam_mask(mx.detach().cpu().numpy(), my.detach().cpu().numpy(), img.shape[-1])
    if not mask.any():
        return img
    r = np.arange(-2, 3, dtype=np.float64)
    g = np.exp(-0.5 * (r / SIGMA) ** 2)
    g /= g.sum()
    k = torch.as_tensor(np.outer(g, g), dtype=img.dtype, device=img.device)[None, None].repeat(3, 1, 1, 1)
    blurred = F.conv2d(F.pad(img[None], (2, 2, 2, 2), mode="reflect"), k, groups=3)[0]
    return torch.where(torch.from_numpy(mask).to(img.device)[None], blurred, img)
