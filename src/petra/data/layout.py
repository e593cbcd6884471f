"""How the data stages name and resume things (their paths: :mod:`petra.paths`).

Identities are grouped into shards (``ingest.identities_per_shard``): a shard is one
Snakemake job per stage (per-job start-up — pandas, dlib's predictor, mediapipe —
costs ~2 s, too much for one job per identity). A job writes its shard tables last,
and inside a job every finished clip / frame leaves a small JSON record, so a
killed job restarts where it stopped. A record names what it depends on (the settings,
the source file's size and mtime, a code version): a record whose dependencies changed
is redone, never trusted.

Artifact paths are derived from (identity, video, time) by :func:`petra.paths.clip_dir`
and :func:`petra.paths.frame_file`, never by rewriting one stage's path string into another's.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from ..io import clean_temporaries as _clean_petra_temporaries
from ..io import write_json


def shard_of(index: int, per_shard: int) -> str:
    """Shard name of the ``index``-th identity (sorted order)."""
    return f"s{index // max(per_shard, 1):03d}"


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
