"""Where the data stages put things, in one place (rules, DVC and stages agree on it).

Identities are grouped into shards (``ingest.identities_per_shard``): a shard is one
Snakemake job per stage (per-job start-up — pandas, dlib's predictor, mediapipe —
costs ~2 s, too much for one job per identity). A job writes its shard tables last,
and inside a job every finished clip / frame leaves a small JSON record, so a
killed job restarts where it stopped.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

from ..config import data_path
from ..errors import InputError

STAGE_DIRS = {"frames": "frames", "align": "aligned", "filter": "filter"}


def listing(cfg: Mapping[str, Any]) -> Path:
    """The ingest checkpoint: one row per usable clip."""
    return data_path(cfg, "raw", "videos.parquet")


def ingest_rejects(cfg: Mapping[str, Any]) -> Path:
    return data_path(cfg, "raw", "rejects.parquet")


def stage_dir(cfg: Mapping[str, Any], stage: str, identity: str) -> Path:
    return data_path(cfg, STAGE_DIRS[stage], identity)


def stage_table(cfg: Mapping[str, Any], stage: str, shard: str) -> Path:
    """The table a stage writes for one shard, e.g. ``<data>/aligned/_shards/s003.parquet``."""
    return data_path(cfg, STAGE_DIRS[stage], "_shards", f"{shard}.parquet")


def stage_rejects(cfg: Mapping[str, Any], stage: str, shard: str) -> Path:
    return data_path(cfg, STAGE_DIRS[stage], "_shards", f"{shard}.rejects.parquet")


def shard_of(index: int, per_shard: int) -> str:
    """Shard name of the ``index``-th identity (sorted order)."""
    return f"s{index // max(per_shard, 1):03d}"


def manifest_dir(cfg: Mapping[str, Any]) -> Path:
    return data_path(cfg, "manifests")


def frames_manifest(cfg: Mapping[str, Any], manifest: str | Path | None = None) -> Path:
    """``manifest``, or the manifest stage's ``frames.parquet``; checked here so every stage
    that reads the frame list fails with the same one-line error before the data stages ran."""
    path = Path(manifest or manifest_dir(cfg) / "frames.parquet")
    if not path.is_file():
        raise InputError(path, "manifest not found; run the data stages first")
    return path


def safe_name(name: str) -> str:
    """A file-name-safe form of a clip stem (keeps spaces and non-ASCII; drops separators)."""
    return re.sub(r"[/\\\x00]", "_", name).strip() or "_"


def frame_name(time_s: float) -> str:
    """File stem of the frame at ``time_s``: milliseconds, zero-padded (sorts by time)."""
    return f"t{int(round(time_s * 1000)):07d}"


def clean_temporaries(folder: Path) -> int:
    """Remove temp files a killed writer left behind (atomic writes never expose them)."""
    n = 0
    if not folder.is_dir():
        return 0
    for root, _, files in os.walk(folder):
        for f in files:
            if f.startswith(".") and ".tmp" in f:
                os.unlink(os.path.join(root, f))
                n += 1
    return n
