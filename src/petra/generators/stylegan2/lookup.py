"""E_i at inference: stored W+ for manifest frames, ReStyle inversion for anything else.

Evaluation hands Reenactors pixels, not paths; :class:`CodeLookup` recognises a
manifest frame by its content hash (``baseline/<enc>/frames.parquet``) and returns
its stored code (and its video), so evaluation uses exactly the codes training and
the baseline saw; unknown images (user portraits) are inverted on the fly.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from petra.paths import baseline_dir, latents_dir


class CodeLookup:
    def __init__(self, cfg: Mapping[str, Any], encoder: str, device: Any = "cpu") -> None:
        import pandas as pd

        from petra.latents.store import LatentStore

        self.cfg, self.encoder, self.device = cfg, encoder, torch.device(device)
        ldir = latents_dir(cfg, encoder)
        self.store = LatentStore(ldir) if (ldir / "index.parquet").is_file() else None
        fp = baseline_dir(cfg, encoder) / "frames.parquet"
        self.frames: dict[str, tuple[str, str]] = {}
        if fp.is_file():
            df = pd.read_parquet(fp)
            self.frames = {k: (p, v) for k, p, v in zip(df["pixel_key"], df["aligned_path"], df["video"])}
        self._inv = None

    def frame(self, rgb: np.ndarray) -> tuple[str, str] | None:
        """(aligned_path, video) of a known manifest crop, else None."""
        from .baseline.arithmetic import pixel_key

        hit = self.frames.get(pixel_key(rgb))
        return hit if hit and self.store is not None and hit[0] in self.store else None

    def invert(self, images: list[np.ndarray]) -> torch.Tensor:
        if self._inv is None:
            from .latents import ReStyleInverter

            self._inv = ReStyleInverter(self.cfg, self.encoder, self.device)
        return self._inv.invert_images(images).to(self.device)

    def code(self, rgb: np.ndarray, flip: bool = False) -> torch.Tensor:
        """W+ [n, 512] of a crop (or of its flip)."""
        hit = self.frame(rgb)
        if hit is not None:
            try:
                return self.store.get([hit[0]], "w_flip" if flip else "w")[0].to(self.device)
            except KeyError:
                pass
        img = np.ascontiguousarray(rgb[:, ::-1]) if flip else rgb
        return self.invert([img])[0]
