"""Shards of per-frame codes, written atomically and read back by aligned_path.

Layout under ``<paths.data>/latents/<backend>/``: ``shard-00000.pt`` … each a dict
``{'keys': [aligned_path, ...], 'arrays': {name: Tensor[N, ...]}}`` loadable with
``torch.load(weights_only=True)`` and a ``.sha256`` sidecar; ``index.parquet``
(aligned_path, shard, row) lists every stored frame; ``rejects.parquet`` the
frames that failed. Shard ``i`` always covers the same frames (the manifest's
aligned paths, sorted, sliced by ``shard_size``), so a rerun skips complete shards.

Arrays for the ReStyle backends: ``w`` [N, n_latent, 512] and, with flips,
``w_flip`` (the horizontally flipped crop). A mesh backend stores its own names.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..io import atomic_path_with_sidecar, sha256_file, sidecar_digests


def shard_path(folder: str | Path, i: int) -> Path:
    return Path(folder) / f"shard-{i:05d}.pt"


def write_shard(path: str | Path, keys: Sequence[str], arrays: Mapping[str, Any], depends: str = "") -> None:
    """Save one shard (tensors, float32 on CPU) and its sha256 sidecar, atomically.

    ``depends``: a digest of what the codes were made from; a shard is reused only for the same.
    """
    import torch

    path = Path(path)
    obj = {"keys": list(keys), "depends": depends, "arrays": {k: torch.as_tensor(np.asarray(v)).float().contiguous() for k, v in arrays.items()}}
    for name, t in obj["arrays"].items():
        if len(t) != len(keys):
            raise ValueError(f"{path}: array {name!r} has {len(t)} rows for {len(keys)} keys")
    with atomic_path_with_sidecar(path) as tmp:
        torch.save(obj, tmp)


def read_shard(path: str | Path) -> dict[str, Any]:
    """Load a shard after checking its sha256 sidecar (weights_only)."""
    import torch

    path = Path(path)
    digests = sidecar_digests(path)
    if not path.is_file() or not digests:
        raise InputError(path, "latent shard or its .sha256 is missing")
    if sha256_file(path) not in digests:
        raise InputError(path, "latent shard sha256 mismatch (corrupt or replaced)")
    return torch.load(path, map_location="cpu", weights_only=True)


def shard_complete(path: str | Path, keys: Sequence[str], depends: str = "") -> bool:
    """True when the shard exists, verifies, holds exactly ``keys`` and was made from ``depends``."""
    try:
        obj = read_shard(path)
    except InputError:
        return False
    return obj["keys"] == list(keys) and obj.get("depends", "") == depends


class LatentStore:
    """Read access to one backend's codes by aligned_path (shards cached on first use)."""

    def __init__(self, folder: str | Path) -> None:
        import pandas as pd

        self.folder = Path(folder)
        idx = self.folder / "index.parquet"
        if not idx.is_file():
            raise InputError(idx, "latents index not found; run `petra latents` first")
        df = pd.read_parquet(idx)
        self._where = {p: (int(s), int(r)) for p, s, r in zip(df["aligned_path"], df["shard"], df["row"])}
        self._shards: dict[int, dict[str, Any]] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._where

    def __len__(self) -> int:
        return len(self._where)

    def keys(self) -> list[str]:
        return list(self._where)

    def get(self, keys: Iterable[str], name: str = "w") -> torch.Tensor:  # noqa: F821
        """Stack ``name`` for ``keys`` → Tensor [len(keys), ...]; KeyError for unknown frames."""
        import torch

        rows = []
        for k in keys:
            if k not in self._where:
                raise KeyError(f"no latent for {k}")
            s, r = self._where[k]
            if s not in self._shards:
                self._shards[s] = read_shard(shard_path(self.folder, s))
            rows.append(self._shards[s]["arrays"][name][r])
        return torch.stack(rows)
