"""Pasting a rendered crop back into the full target image.

Only what moved is pasted: the soft mask is the (dilated, blurred) region where the
warp displaced pixels or a layer (iris, mouth) replaced them, times a feathered
border of the crop. Everything still keeps the original full-resolution pixels, so
the user gets their whole photo back, sharp, with no visible crop edge.

What moved keeps the photo's resolution too (:func:`paste_back` with ``detail``): the
crop is rendered at 256 or 512 px, but a portrait's face region is often larger in the
photo (a 1024-px portrait: ~2.5x), and the upscaled crop alone looks blurred next to the
untouched hair and clothes; a small photo, whose face the crop enlarges, comes back softened by
the three resamplings photo -> crop -> render -> photo. The warp is a backward map, so it can sample the photo
itself at full resolution; the frame's detail layer is that sharp warp minus the same
warp at crop resolution (what the render already holds), added where the render *is*
the plain warp of the target (not where a layer replaced it: mouth interior, closed lids,
the background plate), i.e. where the two crop-resolution images agree. The irises are
warped from patches stored beside the crop (:mod:`.eyes`); their map is taken back to the
iris's place in the crop, so they get the photo's detail too, except the parts the lids
hid in the target (filled in the patch: the photo shows lid there).
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


EDGE_FILL = 0.12  # band beyond the photo's edge (fraction of the crop side) filled from the edge: whole
                  # over its first half (the head moves at most mesh.max_shift = 0.06), fading out over the rest


def photo_edge_fill(crop: np.ndarray, photo: np.ndarray, src_to_crop: np.ndarray,
                    band: float = EDGE_FILL) -> np.ndarray:
    """The aligned ``crop`` with a band beyond the photo's edge holding the photo, mirrored at it.

    FFHQ alignment fills the crop outside the photo with a blurred reflection fading to the
    mean colour. Where the head moves, the warp pulls that fill into the photo: a head whose
    hair the photo's top edge cuts (a tight headshot) grew a dark smudge above its crown, a
    face cut by a side edge a blurred ghost of itself. Hair and background go on past the
    edge; a sharp mirror image of the pixels next to it continues their texture for the few
    pixels a head moves (replicating the edge row drew streaks). Farther out the FFHQ fill is
    kept, so a crop shown whole (``--no-paste-back``) keeps its look. A crop inside the photo
    is returned as is.
    """
    import cv2

    h, w = crop.shape[:2]
    inside = cv2.warpAffine(np.full(photo.shape[:2], 255, np.uint8), src_to_crop, (w, h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if inside.min() == 255:
        return crop
    a = inside.astype(np.float32) / 255.0
    dist = cv2.distanceTransform((inside < 128).astype(np.uint8), cv2.DIST_L2, 3)
    half = max(0.5 * band * max(h, w), 1.0)
    u = np.clip(2.0 - dist / half, 0.0, 1.0)
    rep_w = ((1.0 - a) * u * u * (3.0 - 2.0 * u))[..., None]
    rep = cv2.warpAffine(photo, src_to_crop, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    out = crop.astype(np.float32)
    out += rep_w * (rep.astype(np.float32) - out)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


DETAIL_TOLERANCE = 24.0  # render vs plain warp (max over RGB, 0..255) at which the photo's detail is off


def _window(mask: np.ndarray, src_to_crop: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """Photo pixels (x0, y0, x1, y1) under the mask's non-zero part (None: empty)."""
    import cv2

    ys, xs = np.nonzero(mask > 1e-3)
    if len(xs) == 0:
        return None
    inv = cv2.invertAffineTransform(src_to_crop)
    cx0, cx1, cy0, cy1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    corners = np.array([[cx0, cy0, 1], [cx1, cy0, 1], [cx0, cy1, 1], [cx1, cy1, 1]], np.float64) @ inv.T
    h, w = shape[:2]
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + 2, [w, h])
    return None if x1 <= x0 or y1 <= y0 else (int(x0), int(y0), int(x1), int(y1))


def paste_back(full: np.ndarray, crop: np.ndarray, src_to_crop: np.ndarray, mask: np.ndarray,
               detail: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Blend ``crop`` [S, S, 3] into ``full`` [H, W, 3] (uint8) where ``mask`` [S, S] says so.

    ``src_to_crop`` is the 2x3 affine from full-image pixel indices to crop pixel indices.
    ``detail`` = (texture, plain, map_x, map_y): the target crop, the frame's plain warp
    [S, S, 3] (the warp's own samples before any layer, :meth:`MeshWarper.detail_maps`) and
    the frame's backward map [S, S] into the target crop. The photo's own detail is added
    where the crop is that plain warp and the plain warp shows the target crop's content
    there (module docstring), whatever the crop's scale: a crop at or above the photo's own
    resolution holds its content but not its sharpness (photo -> crop -> render -> photo are
    three bilinear resamplings; sampled directly it is one).
    """
    import cv2

    win_ = _window(mask, src_to_crop, full.shape)
    if win_ is None:
        return full.copy()
    x0, y0, x1, y1 = win_
    m = src_to_crop.copy()
    m[:, 2] += m[:, 0] * x0 + m[:, 1] * y0  # window-local source coordinates
    size = (x1 - x0, y1 - y0)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP

    def up(a: np.ndarray, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
        return cv2.warpAffine(a, m, size, flags=flags, borderMode=border, borderValue=0)

    def agree(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        gap = cv2.absdiff(a, b).max(axis=-1).astype(np.float32)
        return np.clip(1.0 - gap / DETAIL_TOLERANCE, 0.0, 1.0)

    out = full.copy()
    win = out[y0:y1, x0:x1].astype(np.float32)
    if detail is not None:
        texture, plain, mx, my = detail
        orig = cv2.remap(texture, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # the render is the plain warp (no layer over it), and the plain warp is the target's own
        # content there (not an iris patch's filled-in part, not a painted-out iris)
        keep = cv2.erode(agree(crop, plain) * agree(plain, orig), np.ones((3, 3), np.uint8))
        inv = cv2.invertAffineTransform(src_to_crop)  # the map in photo pixels, then at photo resolution
        # one warp per group of channels: the map (x, y) and (crop minus its plain part, keep)
        pmap = np.dstack([inv[0, 0] * mx + inv[0, 1] * my + inv[0, 2],
                          inv[1, 0] * mx + inv[1, 1] * my + inv[1, 2]]).astype(np.float32)
        base = up(np.dstack([crop.astype(np.float32) - keep[..., None] * orig.astype(np.float32), keep]))
        layer = cv2.remap(full, up(pmap), None, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT).astype(np.float32)
        layer *= base[..., 3:4]
        layer += base[..., :3]
    else:
        layer = up(crop).astype(np.float32)
    alpha = up(mask.astype(np.float32), cv2.BORDER_CONSTANT)[..., None]
    layer -= win  # out = win + alpha * (layer - win), in place
    layer *= alpha
    layer += win
    layer += 0.5
    out[y0:y1, x0:x1] = np.clip(layer, 0, 255).astype(np.uint8)
    return out
