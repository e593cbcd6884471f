"""Latent arithmetic, thesis §4.1: z_{A1→R} = z_R + α (z_{A1} − z_{A0}), α = 1.

The "neutral" code of a video (frontal pose, average expression) is the mean W+ of
all its frames and their horizontal flips: flipping cancels yaw and roll, and
averaging over time cancels expression. For a single image without its video the
neutral is the mean of the image and its flip. Pure tensor maths, no I/O.
Shapes: W+ [n_latent, 512] (or batched [N, n_latent, 512]).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import numpy as np
import torch


def transfer(z_R: torch.Tensor, z_A1: torch.Tensor, z_A0: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """The baseline edit: add the driving frame's offset from its neutral to the target's neutral."""
    return z_R + alpha * (z_A1 - z_A0)


def neutral(w: torch.Tensor, w_flip: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of the frames' codes [F, n, 512] (and of their flips) → [n, 512]."""
    parts = [w] if w_flip is None else [w, w_flip]
    return torch.cat(parts).mean(0)


def video_neutrals(frames: Mapping[str, Iterable[str]], get) -> dict[str, torch.Tensor]:
    """{video: neutral} from {video: aligned paths} and ``get(keys, name) -> [F, n, 512]``."""
    out = {}
    for video, keys in frames.items():
        keys = list(keys)
        try:
            w_flip = get(keys, "w_flip")
        except KeyError:
            w_flip = None
        out[video] = neutral(get(keys, "w"), w_flip)
    return out


def pixel_key(rgb: np.ndarray) -> str:
    """A content hash of a crop: how a Reenactor recognises a manifest frame it is given."""
    a = np.ascontiguousarray(rgb)
    return hashlib.sha1(a.tobytes() + str(a.shape).encode()).hexdigest()
