"""Reading user images into one canonical form: RGB uint8, H×W×3.

Grayscale, RGBA (composited on white), palette and 16-bit images are converted;
unreadable, empty, tiny and absurdly large files raise :class:`InputError` naming
the file and the reason.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputError, require_file

MIN_SIDE = 64          # below this no face detector or aligner gives anything useful
MAX_PIXELS = 80_000_000  # ~ 10k x 8k; beyond this decoding alone risks memory


def to_rgb_uint8(img: np.ndarray, path: str | Path = "<array>") -> np.ndarray:
    """Normalise an array from any decoder to RGB uint8 (no BGR handling here)."""
    if img is None or img.size == 0:
        raise InputError(path, "empty image")
    if img.dtype == np.uint16:
        img = (img.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        img = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise InputError(path, f"unsupported pixel type {img.dtype}")
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 4:
        alpha = img[..., 3:4].astype(np.float32) / 255.0
        img = (img[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    elif not (img.ndim == 3 and img.shape[2] == 3):
        raise InputError(path, f"unsupported image shape {img.shape}")
    return np.ascontiguousarray(img)


def check_size(img: np.ndarray, path: str | Path, min_side: int = MIN_SIDE) -> np.ndarray:
    h, w = img.shape[:2]
    if min(h, w) < min_side:
        raise InputError(path, f"image too small ({w}x{h} px; need at least {min_side} px per side)")
    if h * w > MAX_PIXELS:
        raise InputError(path, f"image too large ({w}x{h} px)")
    return img


def read_image(path: str | Path, min_side: int = MIN_SIDE) -> np.ndarray:
    """Read any common image file as RGB uint8, or raise a one-line :class:`InputError`."""
    import cv2

    p = Path(path)
    require_file(p, "an image")
    data = np.fromfile(str(p), dtype=np.uint8)  # np.fromfile copes with non-ASCII paths
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(p, "not a readable image (corrupt or unsupported format)")
    if img.ndim == 3 and img.shape[2] == 3:
        img = img[..., ::-1]
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[..., [2, 1, 0, 3]]
    return check_size(to_rgb_uint8(img, p), p, min_side)
