"""The two ways petra aligns a face (``align.mode``), both on the FFHQ quad of dlib-68 landmarks.

* ``direct`` — pSp/ReStyle's inference alignment: one bilinear warp straight to the crop
  size (output = transform size; :func:`petra.data.ffhq.align_face`).
* ``released`` — what the thesis's released code feeds its networks
  (JahodaPetr/Pose-and-Expression-Transfer, ``common.py``: ``align_face_npy_with_params``
  then ``get_transforms``): the FFHQ recipe at 1024 (bilinear quad warp at 4096, Lanczos
  down to 1024), then torchvision ``Resize((256, 256))`` on that PIL image, which is PIL's
  bilinear resize (antialiased: its support widens with the reduction). Same geometry as
  ``direct``; the pixels are supersampled instead of sampled once, so they are softer and
  less aliased. tests/fixtures/thesis_code/alignment/ holds the released code's outputs.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from petra.data.ffhq import Aligned, align_face

MODES = ("direct", "released")
RELEASED_SIZE = 1024       # align_face_npy_with_params(output_size=1024)
RELEASED_TRANSFORM = 4096  # its transform_size: FFHQ's 4x supersampling


def resize_aligned(al: Aligned, size: int) -> Aligned:
    """The crop resized to size×size with PIL bilinear (torchvision Resize on a PIL image),
    its affine and landmarks following (PIL keeps pixel centres: c_out + .5 = (c_in + .5)·k)."""
    s0 = al.image.shape[0]
    if size == s0:
        return al
    k = size / s0
    img = np.asarray(Image.fromarray(al.image).resize((size, size), Image.BILINEAR))
    scale = np.array([[k, 0.0, 0.5 * k - 0.5], [0.0, k, 0.5 * k - 0.5]])
    src_to_crop = scale @ np.vstack([al.src_to_crop, [0.0, 0.0, 1.0]])
    lm = (al.landmarks.astype(np.float64) + 0.5) * k - 0.5
    return Aligned(image=img, src_to_crop=src_to_crop, landmarks=lm.astype(np.float32), padded=al.padded)


def align_by_mode(img: np.ndarray, landmarks: np.ndarray, size: int, mode: str = "direct") -> Aligned:
    """Align an RGB uint8 frame by its dlib-68 landmarks (source pixels) to size×size in ``mode``."""
    if mode == "direct":
        return align_face(img, landmarks, size)
    if mode == "released":
        big = align_face(img, landmarks, RELEASED_SIZE, transform_size=RELEASED_TRANSFORM)
        return resize_aligned(big, size)
    raise ValueError(f"align.mode {mode!r}: expected one of {', '.join(MODES)}")
