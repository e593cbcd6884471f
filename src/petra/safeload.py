"""Safe checkpoint loading and weight hashes: what every model loader needs, nothing more.

Kept apart from :mod:`petra.weights` (the registry) so :mod:`petra.models` can load
files without importing the registry, and the registry imports no model.
"""
from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import MissingWeightsError, PetraError
from .io import sha256_file

# (path, size, mtime_ns) -> sha256 already computed in this process: a file is hashed once
_VERIFIED: dict[tuple[str, int, int], str] = {}


def verify_sha256(path: str | Path, expected: str | None) -> None:
    """Raise PetraError if ``path``'s sha256 differs from ``expected`` (None: nothing to check)."""
    if not expected:
        return
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    actual = _VERIFIED.get(key) or sha256_file(path)
    if actual != expected:
        raise PetraError(f"{path}: sha256 {actual} does not match the expected {expected}; delete it and fetch again")
    _VERIFIED[key] = actual


def _safe_globals() -> list[Any]:
    """Non-tensor objects official checkpoints pickle: option objects (argparse.Namespace)."""
    return [argparse.Namespace]


def safe_torch_load(path: str | Path, sha256: str | None = None, map_location: str = "cpu") -> Any:
    """``torch.load(weights_only=True)`` after an optional sha256 check; never weights_only=False.

    Allows ``argparse.Namespace`` (ReStyle/pSp ``opts`` and rosinality ``args`` in some
    checkpoints). Anything else non-tensor makes the load fail with a one-line PetraError.
    """
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise MissingWeightsError(f"{path}: weight file not found")
    verify_sha256(path, sha256)
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PetraError(f"{path}: cannot load safely (weights_only=True): {first}") from None


def state_dict_sha256(sd: Mapping[str, Any]) -> str:
    """sha256 over (key UTF-8 bytes, raw tensor bytes) in sorted key order (the fixtures' weight hash).

    Stable across ``torch.save`` runs, unlike the file's bytes: converted files carry it.
    """
    h = hashlib.sha256()
    for key in sorted(sd):
        h.update(key.encode("utf-8"))
        h.update(sd[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


content_sha256 = state_dict_sha256
