"""Training pairs from the manifest, the self-supervised sampling of thesis §3.2.

Contract (shared by every generator's recipe):

* :class:`PairSampler` reads ``frames.parquet`` rows of one split (``train`` or
  ``val``; R may come from further splits, ``r_splits``). For step ``k`` it draws,
  deterministically from ``(seed, k)``, ``B`` quadruples ``s_A, t_A, s_R, t_R``. The
  same seed and step always give the same batch, whatever ran before, so a resumed
  run sees the batches it would have seen. Two modes:

  - ``distinct`` (petra's reading of the thesis text; the mesh recipe): identity A
    uniformly, ``s_A``, ``t_A`` two different frames of one of its videos; R another
    identity, ``s_R``, ``t_R`` from one of its videos;
  - ``released`` (the thesis's released code, ``training/images_dataset.py``): the
    frames of the split in sorted order are shuffled once per epoch (drop_last);
    ``s_A`` is the next frame, ``t_A`` one of :data:`LATENT_POOL` frames of A's identity
    whose ReStyle codes stand for the released "10 precomputed latents per folder"
    (it can be ``s_A`` itself); ``s_R`` is any frame of the split (it can be A, even
    ``s_A``) and ``t_R`` one of R's pool frames. A split that is not ``train`` is read
    in order without shuffling, with R = frame (index + 10) mod N, as the released
    validation set; :attr:`PairSampler.n_batches` covers it once.
* :meth:`PairSampler.batch` returns a :class:`PairBatch`: a dict of float tensors
  ``s_A, t_A, s_R, t_R: [B, 3, H, W]`` in [-1, 1] and
  ``lm_s_A, lm_t_A, lm_s_R, lm_t_R: [B, 68, 2]`` (dlib-68 points, pixels of the
  H×W crop), with ``.rows[name]`` the manifest rows (list of dicts; their
  ``aligned_path`` keys precomputed latents), ``.key`` = (seed, step) for anything
  else a recipe draws per batch (e.g. generator noise) and ``.to(device)``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from petra.media import read_image

if TYPE_CHECKING:  # annotations only: pandas loads when a function needs it
    import pandas as pd


ROLES = ("s_A", "t_A", "s_R", "t_R")
MODES = ("distinct", "released")
LATENT_POOL = 10  # released: identity latents per folder (latents/<folder>/<0..9>/latents.pkl)


class PairBatch(dict):
    """Images and landmarks of one step; ``rows`` holds the manifest rows per role."""

    rows: dict[str, list[dict[str, Any]]]

    def __init__(self, *args: Any, rows: Mapping[str, list[dict[str, Any]]] | None = None,
                 key: tuple[int, int] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.rows = dict(rows or {})
        self.key = key

    @property
    def batch_size(self) -> int:
        return int(self["s_A"].shape[0])

    def to(self, device: Any) -> PairBatch:
        return PairBatch({k: v.to(device) for k, v in self.items()}, rows=self.rows, key=self.key)


class PairSampler:
    """Deterministic (A, A, R, R) frame quadruples from one split of the manifest.

    ``size`` resizes crops (and landmarks) to a training resolution, e.g. 64 px for
    the smoke profile's 64-px generator; ``None`` keeps the manifest's crop size.
    ``mode``: ``distinct`` or ``released`` (module docstring).
    """

    def __init__(
        self,
        manifest: pd.DataFrame,
        split: str = "train",
        batch_size: int = 8,
        seed: int = 0,
        size: int | None = None,
        root: str | Path = ".",
        cache: bool = True,
        r_splits: tuple[str, ...] | None = None,
        mode: str = "distinct",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown sampling mode {mode!r}; known: {MODES}")
        r_splits = tuple(r_splits or (split,))
        df = manifest[manifest["split"].isin((split, *r_splits))]
        if mode == "released":  # the released dataset lists its files sorted
            df = df.sort_values("aligned_path", kind="stable")
        df = df.reset_index(drop=True)
        a_ids = sorted(df.loc[df["split"] == split, "identity"].unique())
        r_ids = sorted(df.loc[df["split"].isin(r_splits), "identity"].unique())
        if not a_ids:
            raise ValueError(f"split {split!r} has no frames")
        if mode == "distinct" and len(set(a_ids) | set(r_ids)) < 2:
            raise ValueError(f"split {split!r} (R from {r_splits}) needs frames of at least 2 identities")
        self.mode = mode
        self.shuffle = split == "train"
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
        # released mode: the A frames (sorted paths), the R frames, each identity's latent pool
        self.a_rows = df.index[df["split"] == split].to_numpy()
        self.r_rows = df.index[df["split"].isin(r_splits)].to_numpy()
        self.pool = {ident: latent_pool([i for v in vids for i in v]) for ident, vids in self.videos.items()}
        if mode == "released" and self.shuffle and len(self.a_rows) < self.batch_size:
            raise ValueError(f"split {split!r} has {len(self.a_rows)} frames, fewer than one batch of {self.batch_size}")

    def __len__(self) -> int:
        return len(self.df)

    @property
    def n_batches(self) -> int:
        """Batches that cover the split once (released validation; drop_last when shuffled)."""
        n, b = len(self.a_rows), self.batch_size
        return n // b if self.shuffle else -(-n // b)

    def indices(self, step: int) -> dict[str, list[int]]:
        """Row indices per role for ``step``; a pure function of (seed, step)."""
        rng = np.random.default_rng([self.seed, int(step) & 0x7FFFFFFF, 0x5EED])
        if self.mode == "released":
            return self._released_indices(int(step), rng)
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

    def _released_indices(self, step: int, rng: np.random.Generator) -> dict[str, list[int]]:
        """The released ``ImagesDataset``: A = next frame of the epoch's shuffle (or in order), R any frame."""
        n, b = len(self.a_rows), self.batch_size
        if self.shuffle:
            epoch, pos = divmod(step, self.n_batches)
            order = np.random.default_rng([self.seed, epoch, 0xE90C]).permutation(n)
            picks = order[pos * b:(pos + 1) * b]
        else:
            step %= self.n_batches  # in order, the last batch may be short; then around again
            picks = np.arange(step * b, min((step + 1) * b, n))
        ident = self.df["identity"]
        out: dict[str, list[int]] = {r: [] for r in ROLES}
        for k in picks:
            a = int(self.a_rows[int(k)])
            if self.shuffle:
                r = int(self.r_rows[int(rng.integers(len(self.r_rows)))])
            else:  # the released validation pairs frame i with frame (i + 10) mod N of the same set
                r = int(self.a_rows[(int(k) + 10) % n])
            for (sk, tk), row in ((("s_A", "t_A"), a), (("s_R", "t_R"), r)):
                pool = self.pool[ident[row]]
                out[sk].append(row)
                out[tk].append(pool[int(rng.integers(len(pool)))])
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
        return PairBatch(data, rows=rows, key=(self.seed, int(step)))

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


def latent_pool(frames: list[int], size: int = LATENT_POOL) -> list[int]:
    """Up to ``size`` frames spread evenly over an identity's frames (video, time order).

    The released code draws the identity code from 10 precomputed latents per folder but
    does not say which frames they came from; petra takes evenly spaced frames, whose
    stored ReStyle codes then play that role.
    """
    if len(frames) <= size:
        return list(frames)
    picks = np.unique(np.linspace(0, len(frames) - 1, size).round().astype(int))
    return [frames[int(i)] for i in picks]
