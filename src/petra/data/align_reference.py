"""The FFHQ/pSp alignment written step by step as the notes describe it (PIL + scipy).

Kept as the yardstick for :mod:`petra.data.ffhq`: the benchmark times it in the same
run to get the speed-up ratio, and tests check both against the fixture outputs.
Not used by the pipeline (it is ~10x slower).
"""
from __future__ import annotations

import numpy as np

from .ffhq import ffhq_quad


def align_reference(img: np.ndarray, landmarks: np.ndarray, output_size: int = 256,
                    transform_size: int = 256, enable_padding: bool = True) -> np.ndarray:
    """RGB uint8 frame + dlib-68 landmarks → aligned RGB uint8 crop (notes §2–§6)."""
    import scipy.ndimage
    from PIL import Image

    quad_ = ffhq_quad(landmarks)
    quad = quad_.corners.copy()
    qsize = quad_.qsize
    pil = Image.fromarray(img)
    # Shrink
    shrink = int(np.floor(qsize / output_size * 0.5))
    if shrink > 1:
        rsize = (int(np.rint(float(pil.size[0]) / shrink)), int(np.rint(float(pil.size[1]) / shrink)))
        pil = pil.resize(rsize, Image.LANCZOS)
        quad /= shrink
        qsize /= shrink
    # Crop
    border = max(int(np.rint(qsize * 0.1)), 3)
    crop = (int(np.floor(min(quad[:, 0]))), int(np.floor(min(quad[:, 1]))),
            int(np.ceil(max(quad[:, 0]))), int(np.ceil(max(quad[:, 1]))))
    crop = (max(crop[0] - border, 0), max(crop[1] - border, 0),
            min(crop[2] + border, pil.size[0]), min(crop[3] + border, pil.size[1]))
    if crop[2] - crop[0] < pil.size[0] or crop[3] - crop[1] < pil.size[1]:
        pil = pil.crop(crop)
        quad -= crop[0:2]
    # Pad
    pad = (int(np.floor(min(quad[:, 0]))), int(np.floor(min(quad[:, 1]))),
           int(np.ceil(max(quad[:, 0]))), int(np.ceil(max(quad[:, 1]))))
    pad = (max(-pad[0] + border, 0), max(-pad[1] + border, 0),
           max(pad[2] - pil.size[0] + border, 0), max(pad[3] - pil.size[1] + border, 0))
    if enable_padding and max(pad) > border - 4:
        pad = np.maximum(pad, int(np.rint(qsize * 0.3)))
        arr = np.pad(np.float32(pil), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), "reflect")
        h, w, _ = arr.shape
        y, x, _ = np.ogrid[:h, :w, :1]
        mask = np.maximum(1.0 - np.minimum(np.float32(x) / pad[0], np.float32(w - 1 - x) / pad[2]),
                          1.0 - np.minimum(np.float32(y) / pad[1], np.float32(h - 1 - y) / pad[3]))
        blur = qsize * 0.02
        arr += (scipy.ndimage.gaussian_filter(arr, [blur, blur, 0]) - arr) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
        arr += (np.median(arr, axis=(0, 1)) - arr) * np.clip(mask, 0.0, 1.0)
        pil = Image.fromarray(np.uint8(np.clip(np.rint(arr), 0, 255)), "RGB")
        quad += pad[:2]
    # Transform
    pil = pil.transform((transform_size, transform_size), Image.QUAD, tuple((quad + 0.5).flatten()),
                        Image.BILINEAR)
    if output_size < transform_size:
        pil = pil.resize((output_size, output_size), Image.LANCZOS)
    return np.asarray(pil)
