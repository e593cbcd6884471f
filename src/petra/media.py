"""Reading user images into one canonical form: RGB uint8, H×W×3.

Photos are read as people see them: the EXIF orientation a phone records is applied
(``PIL.ImageOps.exif_transpose``'s table). Grayscale, RGBA (composited on white), palette
and 16-bit images are converted; unreadable, empty, tiny and absurdly large files raise
:class:`InputError` naming the file and the reason.
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


def too_small(w: int, h: int, min_side: int = MIN_SIDE) -> str:
    """The one wording for an image or video too small to hold a usable face."""
    return f"too small ({w}×{h}, need ≥ {min_side} px face)"


def check_size(img: np.ndarray, path: str | Path, min_side: int = MIN_SIDE) -> np.ndarray:
    h, w = img.shape[:2]
    if min(h, w) < min_side:
        raise InputError(path, too_small(w, h, min_side))
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
    img = apply_orientation(img, exif_orientation(data))
    return check_size(to_rgb_uint8(img, p), p, min_side)


def exif_orientation(data: np.ndarray) -> int:
    """The EXIF orientation (1-8) of encoded image bytes; 1 when there is none.

    Only formats that carry EXIF are parsed (JPEG, TIFF, WebP, PNG with an eXIf chunk),
    so reading the pipeline's own PNG frames costs nothing extra.
    """
    head = data[:16].tobytes()
    is_png = head.startswith(b"\x89PNG")
    if not (head.startswith((b"\xff\xd8", b"II*\x00", b"MM\x00*")) or head[8:12] == b"WEBP"
            or (is_png and data.tobytes().find(b"eXIf") >= 0)):
        return 1
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data.tobytes())) as im:
            value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block means "no orientation", not a bad image
        return 1
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Turn decoded pixels upright as ``PIL.ImageOps.exif_transpose`` does for ``orientation``."""
    if orientation == 2:
        return img[:, ::-1]
    if orientation == 3:
        return img[::-1, ::-1]
    if orientation == 4:
        return img[::-1]
    if orientation == 5:  # transpose
        return np.swapaxes(img, 0, 1)
    if orientation == 6:  # rotate 90° clockwise
        return np.rot90(img, -1)
    if orientation == 7:  # transverse
        return np.rot90(img, 2).swapaxes(0, 1)
    if orientation == 8:  # rotate 90° counter-clockwise
        return np.rot90(img, 1)
    return img
