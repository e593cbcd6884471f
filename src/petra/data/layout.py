"""Where the data stages put things, in one place (rules, DVC and stages agree on it).

Identities are grouped into shards (``ingest.identities_per_shard``): a shard is one
Snakemake job per stage (per-job start-up — pandas, dlib's predictor, mediapipe —
costs ~2 s, too much for one job per identity). A job writes its shard tables last,
and inside a job every finished clip / frame leaves a small JSON record, so a
killed job restarts where it stopped. A record names what it depends on (the settings,
the source file's size and mtime, a code version): a record whose dependencies changed
is redone, never trusted.

Artifact paths are derived from (identity, video, time) by :func:`clip_dir` and
:func:`frame_file`, never by rewriting one stage's path string into another's.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

from ..config import data_path
from ..errors import InputError
from ..io import clean_temporaries as _clean_petra_temporaries
from ..io import write_json

STAGE_DIRS = {"frames": "frames", "align": "aligned", "filter": "filter"}


def listing(cfg: Mapping[str, Any]) -> Path:
    """The ingest checkpoint: one row per usable clip."""
    return data_path(cfg, "raw", "videos.parquet")


def ingest_rejects(cfg: Mapping[str, Any]) -> Path:
    return data_path(cfg, "raw", "rejects.parquet")


def check_identity(identity: str, where: str | Path = "identity") -> str:
    """An identity label is one folder name: not empty, no separators, not ``.``/``..``, no NUL."""
    if (not identity or identity in (".", "..")
            or any(c in identity for c in "/\\\x00") or os.path.isabs(identity)):
        raise InputError(where, f"bad identity {identity!r} (it must be one folder name: no '/', '\\', '..')")
    return identity


def stage_dir(cfg: Mapping[str, Any], stage: str, identity: str) -> Path:
    return data_path(cfg, STAGE_DIRS[stage], check_identity(identity))


def clip_dir(cfg: Mapping[str, Any], stage: str, identity: str, video: str) -> Path:
    """``<data>/<stage>/<identity>/<clip>``: ``video`` ("<identity>/<clip...>") below the identity,
    each part made file-name safe (VoxCeleb2's ``<youtube id>/<utterance>`` keeps both levels)."""
    parts = str(video).split("/")
    if len(parts) > 1 and parts[0] == identity:
        parts = parts[1:]
    return stage_dir(cfg, stage, identity).joinpath(*[safe_name(p) for p in parts])


def frame_file(cfg: Mapping[str, Any], stage: str, identity: str, video: str, time_s: float,
               suffix: str = ".png") -> Path:
    """The file of the frame at ``time_s`` of a clip in a stage's folder (frames, aligned)."""
    return clip_dir(cfg, stage, identity, video) / f"{frame_name(time_s)}{suffix}"


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
    name = re.sub(r"[/\\\x00]", "_", name).strip()
    return "_" if name in ("", ".", "..") else name


def frame_name(time_s: float) -> str:
    """File stem of the frame at ``time_s``: milliseconds, zero-padded (sorts by time)."""
    return f"t{int(round(time_s * 1000)):07d}"


def clean_temporaries(folder: Path) -> int:
    """Remove the temporaries killed writers left in a data folder (petra's own naming, writer gone)."""
    return len(_clean_petra_temporaries(folder, recursive=True))


def fingerprint(path: str | Path) -> dict[str, int]:
    """What a record remembers of a source file: size and mtime (ns) — cheap, and any rewrite changes it."""
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def read_record(path: Path, depends: Mapping[str, Any]) -> dict[str, Any] | None:
    """The record at ``path`` if it was made from exactly ``depends``; None (redo) otherwise."""
    if not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = isinstance(rec, dict) and rec.get("depends") == json.loads(json.dumps(dict(depends)))
    return rec if same else None


def write_record(path: Path, depends: Mapping[str, Any], **data: Any) -> dict[str, Any]:
    """Write a resume record (atomically) with what it depends on; returns it."""
    rec = {"depends": dict(depends), **data}
    write_json(path, rec)
    return json.loads(json.dumps(rec, default=str))
