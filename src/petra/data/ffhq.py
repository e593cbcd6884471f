"""FFHQ / pSp / ReStyle face alignment, computed fast (one warp from the frame).

The geometry follows ``/work/shared/fixtures/ffhq_align_notes.md`` (NVlabs
ffhq-dataset ``recreate_aligned_images`` as used by pSp/ReStyle with
output_size = transform_size): eye–mouth quad, shrink, crop, reflect padding with
blur and a fade to the median colour where the quad leaves the image, then a
bilinear quad warp. :mod:`petra.data.align_reference` is the step-by-step
PIL/scipy version; this module gives the same pixels with one ``cv2.warpAffine``
(the quad is a square, so PIL's QUAD map is affine), cv2 float blurs instead of
scipy, and no padding work at all when the quad stays inside the frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Quad:
    """The oriented crop square in source pixels: corners UL, LL, LR, UR and side length."""

    corners: np.ndarray  # [4, 2] float64
    qsize: float


def ffhq_quad(landmarks: np.ndarray) -> Quad:
    """Landmarks [68, 2] (dlib order, source pixels) → the FFHQ crop square (notes §2)."""
    lm = np.asarray(landmarks, dtype=np.float64).reshape(68, 2)
    eye_left = lm[36:42].mean(axis=0)
    eye_right = lm[42:48].mean(axis=0)
    eye_avg = (eye_left + eye_right) * 0.5
    e = eye_right - eye_left
    mouth_avg = (lm[48] + lm[54]) * 0.5
    m = mouth_avg - eye_avg
    x = e - np.array([-m[1], m[0]])
    x /= np.hypot(*x)
    x *= max(np.hypot(*e) * 2.0, np.hypot(*m) * 1.8)
    y = np.array([-x[1], x[0]])
    c = eye_avg + m * 0.1
    corners = np.stack([c - x - y, c - x + y, c + x + y, c + x - y])
    return Quad(corners=corners, qsize=float(np.hypot(*x) * 2))


def quad_affine(corners: np.ndarray, size: int) -> np.ndarray:
    """2×3 matrix mapping output pixel indices (i, j) to source pixel indices, as PIL QUAD does.

    PIL samples output pixel (i, j) at ``ul + 0.5 + (ur-ul)(i+0.5)/T + (ll-ul)(j+0.5)/T`` in
    its pixel-centre convention, i.e. at that point minus 0.5 in index coordinates.
    """
    ul, ll, _, ur = (np.asarray(c, np.float64) for c in corners)
    ax = (ur - ul) / size
    ay = (ll - ul) / size
    t = ul + 0.5 * (ax + ay)
    return np.array([[ax[0], ay[0], t[0]], [ax[1], ay[1], t[1]]], dtype=np.float64)


@dataclass(frozen=True)
class Aligned:
    """An aligned crop, the source→crop affine, and the landmarks in crop pixels."""

    image: np.ndarray        # [S, S, 3] uint8
    src_to_crop: np.ndarray  # [2, 3] float64: crop index coords of a source index point
    landmarks: np.ndarray    # [68, 2] float32, crop pixels
    padded: bool


def _invert_affine(m: np.ndarray) -> np.ndarray:
    a = np.vstack([m, [0.0, 0.0, 1.0]])
    return np.linalg.inv(a)[:2]


def pad_blur_fade(img: np.ndarray, pad: tuple[int, int, int, int], qsize: float,
                  return_median: bool = False) -> np.ndarray:
    """Notes §5: reflect-pad (left, top, right, bottom), blur the pad, fade it to the median.

    ``img`` is float32 [H, W, 3]; returns the padded float32 image (not rounded).
    """
    import cv2

    left, top, right, bottom = pad
    padded = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_REFLECT_101)
    h, w = padded.shape[:2]
    xs = np.arange(w, dtype=np.float32)
    ys = np.arange(h, dtype=np.float32)
    mx = 1.0 - np.minimum(_safe_div(xs, left), _safe_div(w - 1 - xs, right))
    my = 1.0 - np.minimum(_safe_div(ys, top), _safe_div(h - 1 - ys, bottom))
    mask = np.maximum(mx[None, :], my[:, None])[..., None]
    sigma = qsize * 0.02
    radius = int(4.0 * sigma + 0.5)  # scipy.ndimage truncate=4.0
    blurred = cv2.GaussianBlur(padded, (2 * radius + 1, 2 * radius + 1), sigmaX=sigma, sigmaY=sigma,
                               borderType=cv2.BORDER_REFLECT)
    wblur = np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
    padded += (blurred - padded) * wblur
    median = _median_rgb(padded)
    if return_median:
        return median
    padded += (median - padded) * np.clip(mask, 0.0, 1.0)
    return padded


def _safe_div(num: np.ndarray, den: int) -> np.ndarray:
    """num / den; pads are >= rint(0.3 qsize) > 0 whenever padding runs."""
    return num / np.float32(max(den, 1))


def _median_rgb(img: np.ndarray) -> np.ndarray:
    """Per-channel median of a float image (numpy's definition: mean of the two middle values)."""
    flat = img.reshape(-1, 3)
    n = flat.shape[0]
    k = n // 2
    out = np.empty(3, np.float32)
    for c in range(3):
        col = flat[:, c]
        if n % 2:
            out[c] = np.partition(col, k)[k]
        else:
            part = np.partition(col, (k - 1, k))
            out[c] = (part[k - 1] + part[k]) * 0.5
    return out


def _warp_pad_blur_fade(crop: np.ndarray, pad: tuple[int, int, int, int], qsize: float,
                        m: np.ndarray, size: int) -> np.ndarray:
    """Notes §5 + §6 evaluated only at the output pixels.

    Reflect padding is cv2's BORDER_REFLECT_101 inside the warp (numpy 'reflect'); the
    blur commutes with the similarity warp (σ = 0.02·qsize becomes 0.02·size output px);
    the mask is linear per region, so it is evaluated at each pixel's sample point; the
    median colour comes from the padded frame built at a quarter of the resolution.
    """
    import cv2

    left, top, right, bottom = pad
    ch, cw = crop.shape[:2]
    sigma = qsize * 0.02 / np.hypot(m[0, 0], m[1, 0])  # output pixels
    r = int(4.0 * sigma + 0.5)
    big = size + 2 * r
    mb = m.copy()
    mb[:, 2] = m[:, 2] - r * (m[:, 0] + m[:, 1])  # output index (i-r, j-r) of the big canvas
    mc = mb.copy()
    mc[0, 2] -= left  # padded index → crop index
    mc[1, 2] -= top
    sharp = cv2.warpAffine(crop, mc, (big, big), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REFLECT_101).astype(np.float32)
    blurred = cv2.GaussianBlur(sharp, (2 * r + 1, 2 * r + 1), sigmaX=sigma, sigmaY=sigma,
                               borderType=cv2.BORDER_REFLECT)
    sharp = sharp[r:r + size, r:r + size]
    blurred = blurred[r:r + size, r:r + size]
    # sample points of the output pixels in padded-image index coordinates
    jj, ii = np.mgrid[0:size, 0:size].astype(np.float32)
    px = m[0, 0] * ii + m[0, 1] * jj + m[0, 2]
    py = m[1, 0] * ii + m[1, 1] * jj + m[1, 2]
    w, h = cw + left + right, ch + top + bottom
    mask = np.maximum(1.0 - np.minimum(px / left, (w - 1 - px) / right),
                      1.0 - np.minimum(py / top, (h - 1 - py) / bottom))[..., None].astype(np.float32)
    img = sharp + (blurred - sharp) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
    median = _padded_median(crop, pad, qsize)
    img += (median - img) * np.clip(mask, 0.0, 1.0)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _padded_median(crop: np.ndarray, pad: tuple[int, int, int, int], qsize: float, k: int = 4) -> np.ndarray:
    """Per-channel median of the reference's padded, blurred frame, estimated at 1/k scale."""
    import cv2

    ch, cw = crop.shape[:2]
    small = cv2.resize(crop, (max(1, round(cw / k)), max(1, round(ch / k))), interpolation=cv2.INTER_AREA)
    sp = tuple(max(1, int(round(p / k))) for p in pad)
    return pad_blur_fade_median(small.astype(np.float32), sp, qsize / k)


def pad_blur_fade_median(img: np.ndarray, pad: tuple[int, int, int, int], qsize: float) -> np.ndarray:
    """The median colour the reference fades to (computed before the fade, like it)."""
    return pad_blur_fade(img, pad, qsize, return_median=True)


def _warp(base: np.ndarray, corners: np.ndarray, size: int, tsize: int) -> np.ndarray:
    """Notes §6: bilinear quad warp to tsize×tsize, then Lanczos down to size×size.

    Supersampled (tsize > size), both steps are PIL's own calls, as in FFHQ and the
    thesis's released code, so the pixels are theirs: PIL's bilinear truncates where cv2
    rounds (cv2 is 0.34 grey levels brighter at 4096), for ~0.5 s more CPU per crop.
    Lanczos keeps the pixel-centre convention, so the crop's affine is :func:`quad_affine`
    with ``size``.
    """
    import cv2

    if tsize == size:
        return cv2.warpAffine(base, quad_affine(corners, size), (size, size),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    from PIL import Image

    big = Image.fromarray(base).transform((tsize, tsize), Image.QUAD, tuple((corners + 0.5).flatten()),
                                          Image.BILINEAR)
    return np.asarray(big.resize((size, size), Image.LANCZOS))


def align_face(img: np.ndarray, landmarks: np.ndarray, size: int = 256, exact_padding: bool = False,
               transform_size: int | None = None) -> Aligned:
    """Align one RGB uint8 frame by its dlib-68 landmarks (source pixels) to a size×size crop.

    Same result as the reference (pSp ``align_face`` with output = transform = ``size``).
    ``exact_padding`` builds the whole padded frame as the reference does; by default the
    pad, blur and fade are computed in output space (see :func:`_warp_pad_blur_fade`).
    ``transform_size`` > ``size`` is FFHQ's supersampling (notes §6-§7: warp at 4096, then
    Lanczos down to 1024); the pad is then built in source space, where it is small.
    """
    tsize = size if transform_size is None else int(transform_size)
    if tsize < size:
        raise ValueError(f"transform_size {tsize} < size {size}")
    exact_padding = exact_padding or tsize > size

    quad = ffhq_quad(landmarks)
    corners = quad.corners.copy()
    qsize = quad.qsize
    src = img
    h, w = src.shape[:2]
    scale = 1.0
    # Shrink (notes §3): only very large faces; use PIL's Lanczos for the same pixels.
    shrink = int(np.floor(qsize / size * 0.5))
    if shrink > 1:
        from PIL import Image

        rsize = (int(np.rint(float(w) / shrink)), int(np.rint(float(h) / shrink)))
        src = np.asarray(Image.fromarray(src).resize(rsize, Image.LANCZOS))
        corners /= shrink
        qsize /= shrink
        scale = 1.0 / shrink
        h, w = src.shape[:2]
    # Crop (notes §4): an offset only; we keep indexing into ``src``.
    border = max(int(np.rint(qsize * 0.1)), 3)
    bx0 = int(np.floor(corners[:, 0].min()))
    by0 = int(np.floor(corners[:, 1].min()))
    bx1 = int(np.ceil(corners[:, 0].max()))
    by1 = int(np.ceil(corners[:, 1].max()))
    cx0, cy0 = max(bx0 - border, 0), max(by0 - border, 0)
    cx1, cy1 = min(bx1 + border, w), min(by1 + border, h)
    if not (cx1 - cx0 < w or cy1 - cy0 < h):
        cx0, cy0, cx1, cy1 = 0, 0, w, h
    cw, ch = cx1 - cx0, cy1 - cy0
    corners_c = corners - [cx0, cy0]
    # Pad (notes §5)
    pl = max(-int(np.floor(corners_c[:, 0].min())) + border, 0)
    pt = max(-int(np.floor(corners_c[:, 1].min())) + border, 0)
    pr = max(int(np.ceil(corners_c[:, 0].max())) - cw + border, 0)
    pb = max(int(np.ceil(corners_c[:, 1].max())) - ch + border, 0)
    padded = max(pl, pt, pr, pb) > border - 4
    if padded:
        p = int(np.rint(qsize * 0.3))
        pl, pt, pr, pb = max(pl, p), max(pt, p), max(pr, p), max(pb, p)
        crop = src[cy0:cy1, cx0:cx1]
        corners_p = corners_c + [pl, pt]
        m = quad_affine(corners_p, size)
        if exact_padding:
            pimg = pad_blur_fade(crop.astype(np.float32), (pl, pt, pr, pb), qsize)
            base = np.clip(np.rint(pimg), 0, 255).astype(np.uint8)
            out = _warp(base, corners_p, size, tsize)
        else:
            out = _warp_pad_blur_fade(crop, (pl, pt, pr, pb), qsize, m, size)
        off = np.array([cx0 - pl, cy0 - pt], np.float64)  # padded index = src index - off
    else:
        m = quad_affine(corners_c, size)
        out = _warp(src[cy0:cy1, cx0:cx1], corners_c, size, tsize)
        off = np.array([cx0, cy0], np.float64)
    # source index → crop index: undo shrink, offset, then the inverse warp
    crop_from_base = _invert_affine(m)
    src_to_base = np.array([[scale, 0.0, -off[0]], [0.0, scale, -off[1]]])
    src_to_crop = crop_from_base @ np.vstack([src_to_base, [0.0, 0.0, 1.0]])
    lm = np.asarray(landmarks, np.float64).reshape(68, 2)
    lm_crop = (lm @ src_to_crop[:, :2].T + src_to_crop[:, 2]).astype(np.float32)
    return Aligned(image=out, src_to_crop=src_to_crop, landmarks=lm_crop, padded=bool(padded))
