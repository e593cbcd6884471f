"""Training pairs from the manifest, the self-supervised sampling of thesis §3.2.

Contract (shared by every generator's recipe):

* :class:`PairSampler` reads ``frames.parquet`` rows of one split (``train`` or
  ``val``; R may come from further splits, ``r_splits``, when the split has one
  identity, as a tiny val split can). For step ``k`` it draws, deterministically from ``(seed, k)``, ``B``
  quadruples: ``s_A``, ``t_A`` from one video of identity A (two different frames
  when the video has them) and ``s_R``, ``t_R`` from one video of another
  identity R. The same seed and step always give the same batch, whatever ran
  before, so a resumed run sees the batches it would have seen.
* :meth:`PairSampler.batch` returns a :class:`PairBatch`: a dict of float tensors
  ``s_A, t_A, s_R, t_R: [B, 3, H, W]`` in [-1, 1] and
  ``lm_s_A, lm_t_A, lm_s_R, lm_t_R: [B, 68, 2]`` (dlib-68 points, pixels of the
  H×W crop), with ``.rows[name]`` the manifest rows (list of dicts; their
  ``aligned_path`` keys precomputed latents) and ``.to(device)``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from petra.media import read_image

ROLES = ("s_A", "t_A", "s_R", "t_R")


class PairBatch(dict):
    """Images and landmarks of one step; ``rows`` holds the manifest rows per role."""

    rows: dict[str, list[dict[str, Any]]]

    def __init__(self, *args: Any, rows: Mapping[str, list[dict[str, Any]]] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.rows = dict(rows or {})

    @property
    def batch_size(self) -> int:
        return int(self["s_A"].shape[0])

    def to(self, device: Any) -> PairBatch:
        return PairBatch({k: v.to(device) for k, v in self.items()}, rows=self.rows)


class PairSampler:
    """Deterministic (A, A, R, R) frame quadruples from one split of the manifest.

    ``size`` resizes crops (and landmarks) to a training resolution, e.g. 64 px for
    the smoke profile's 64-px generator; ``None`` keeps the manifest's crop size.
    """

    def __init__(
        self,
        manifest: pd.DataFrame,  # noqa: F821
        split: str = "train",
        batch_size: int = 8,
        seed: int = 0,
        size: int | None = None,
        root: str | Path = ".",
        cache: bool = True,
        r_splits: tuple[str, ...] | None = None,
    ) -> None:
        r_splits = tuple(r_splits or (split,))
        df = manifest[manifest["split"].isin((split, *r_splits))].reset_index(drop=True)
        a_ids = sorted(df.loc[df["split"] == split, "identity"].unique())
        r_ids = sorted(df.loc[df["split"].isin(r_splits), "identity"].unique())
        if not a_ids or len(set(a_ids) | set(r_ids)) < 2:
            raise ValueError(f"split {split!r} (R from {r_splits}) needs frames of at least 2 identities")
        self.df = df
        self.split = split
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.size = size
        self.root = Path(root)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if cache else None
        # identity -> list of videos -> list of row indices (sorted for determinism)
        self.identities = sorted(df["identity"].unique())
        self.a_ids, self.r_ids = a_ids, r_ids
        self.videos: dict[str, list[list[int]]] = {}
        for ident in self.identities:
            sub = df[df["identity"] == ident]
            self.videos[ident] = [
                sorted(g.sort_values("time_s").index.tolist()) for _, g in sorted(sub.groupby("video"), key=lambda kv: kv[0])
            ]

    def __len__(self) -> int:
        return len(self.df)

    def indices(self, step: int) -> dict[str, list[int]]:
        """Row indices per role for ``step``; a pure function of (seed, step)."""
        rng = np.random.default_rng([self.seed, int(step) & 0x7FFFFFFF, 0x5EED])
        out: dict[str, list[int]] = {r: [] for r in ROLES}
        for _ in range(self.batch_size):
            a_id = self.a_ids[int(rng.integers(len(self.a_ids)))]
            others = [i for i in self.r_ids if i != a_id]
            r_id = others[int(rng.integers(len(others)))]
            for (sk, tk), ident in ((("s_A", "t_A"), a_id), (("s_R", "t_R"), r_id)):
                vids = self.videos[ident]
                frames = vids[int(rng.integers(len(vids)))]
                if len(frames) >= 2:
                    i, j = rng.choice(len(frames), size=2, replace=False)
                else:
                    i = j = 0
                out[sk].append(frames[int(i)])
                out[tk].append(frames[int(j)])
        return out

    def batch(self, step: int) -> PairBatch:
        """The :class:`PairBatch` of ``step`` (images in [-1, 1], landmarks in px)."""
        import torch

        idx = self.indices(step)
        data: dict[str, Any] = {}
        rows: dict[str, list[dict[str, Any]]] = {}
        for role in ROLES:
            imgs, lms = zip(*(self._load(i) for i in idx[role]))
            data[role] = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
            data[f"lm_{role}"] = torch.from_numpy(np.stack(lms)).float()
            rows[role] = [self.df.loc[i].to_dict() for i in idx[role]]
        return PairBatch(data, rows=rows)

    def batches(self, steps: Iterable[int]) -> Iterable[PairBatch]:
        for k in steps:
            yield self.batch(k)

    def _load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is not None and i in self._cache:
            return self._cache[i]

        row = self.df.loc[i]
        img = read_image(self.root / row["aligned_path"])
        lm = np.asarray(row["landmarks"], dtype=np.float32).reshape(68, 2)
        if self.size and img.shape[0] != self.size:
            import cv2

            scale = self.size / img.shape[0]
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            img = cv2.resize(img, (self.size, self.size), interpolation=interp)
            lm = lm * scale
        item = (img, lm)
        if self._cache is not None:
            self._cache[i] = item
        return item
