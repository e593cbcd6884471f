"""The evaluators' features of the pair frames, measured once for every method's job.

Every method's evaluation analyses the same driving frames and targets; only the outputs
differ. ``petra pair-features`` (rule ``pair_features``) measures the driving frames and
targets once and writes them as a table; each ``petra evaluate`` job starts its
:class:`~petra.evaluate.analyzer.Analyzer` cache from it. The table is keyed by the image
content (as the cache is) and records the backends, so a stale table is refused, never used.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from petra.errors import InputError, PetraError

from .analyzer import Analyzer, Features

_ARRAYS = ("landmarks", "ratios", "au", "embedding")


def _backends(an: Analyzer) -> str:
    return json.dumps(asdict(an.backends), sort_keys=True)


def measure_pairs(an: Analyzer, pairs: pd.DataFrame, read: Any) -> list[bytes]:
    """Analyse every distinct target and driving frame of ``pairs`` (``read(path)`` gives the
    crop); returns their cache keys. Unreadable frames are left to the method jobs, which
    record them as rejects."""
    keys = []
    paths = list(dict.fromkeys([*pairs["target_path"], *pairs["driving_path"]]))
    for p in tqdm(paths, desc="pair features", unit="frame"):
        try:
            rgb = read(p)
        except PetraError:
            continue
        an(rgb)
        keys.append(an.key(rgb))
    return keys


def to_table(an: Analyzer, keys: list[bytes]) -> pd.DataFrame:
    """One row per key: the features as lists, their dtypes and shapes, and the backends."""
    rows = []
    for k in keys:
        f = an.cached(k)
        row: dict[str, Any] = {"key": k.hex(), "pose": None if f.pose is None else [float(v) for v in f.pose]}
        for name in _ARRAYS:
            a = getattr(f, name)
            row[name] = None if a is None else np.asarray(a).reshape(-1).tolist()
            row[f"{name}_meta"] = None if a is None else json.dumps([str(np.asarray(a).dtype), list(np.shape(a))])
        rows.append(row)
    table = pd.DataFrame(rows, columns=["key", "pose", *[c for n in _ARRAYS for c in (n, f"{n}_meta")]])
    table["backends"] = _backends(an)
    return table


def prime(an: Analyzer, table_path: str | Path) -> int:
    """Fill ``an``'s cache from a table of :func:`to_table`; returns the number of entries."""
    table = pd.read_parquet(table_path)
    if len(table) and table["backends"].iloc[0] != _backends(an):
        raise InputError(table_path, f"pair features of other evaluator backends ({table['backends'].iloc[0]}); "
                                     "rerun `petra pair-features`")
    for row in table.itertuples(index=False):
        parts: dict[str, Any] = {"pose": None if row.pose is None else tuple(float(v) for v in row.pose)}
        for name in _ARRAYS:
            meta = getattr(row, f"{name}_meta")
            if meta is None:
                parts[name] = None
            else:
                dtype, shape = json.loads(meta)
                parts[name] = np.asarray(getattr(row, name), dtype=dtype).reshape(shape)
        an.remember(bytes.fromhex(row.key), Features(**parts))
    return len(table)

