"""Frame extraction: one frame every ``interval_s`` seconds, at most ``max_per_video``.

A finished clip leaves ``frames.json`` beside its PNGs; a rerun reuses it only when it
was made from the same clip (size, mtime) with the same ``frames`` settings, so an
interrupted job redoes only the clip it was on and a changed setting or clip is redone.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError
from ..io import write_image
from ..media import MIN_SIDE, too_small
from .layout import fingerprint, read_record, write_record
from petra.paths import frame_name
from petra.video import iter_frames

VERSION = 2  # bump when the extraction itself changes (records of older versions are redone)
_FRAME_FILE = re.compile(r"^t\d{7}\.png$")


def extract_video(path: str | Path, out_dir: Path, settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Write the sampled frames of one clip as PNGs; return (time_s, frame_path, width, height) rows.

    ``settings`` is the ``frames`` section (interval_s, max_per_video, max_side). Raises
    InputError for clips that are unreadable, empty, partly undecodable or too small.
    """
    done = out_dir / "frames.json"
    depends = {"version": VERSION, "settings": dict(settings), "source": fingerprint(path)}
    rec = read_record(done, depends)
    if rec is not None:
        return rec["rows"]
    rows: list[dict[str, Any]] = []
    try:
        for t, rgb in iter_frames(path, max_side=settings.get("max_side"), interval_s=settings["interval_s"],
                                  max_frames=settings["max_per_video"], strict=True):
            h, w = rgb.shape[:2]
            if min(h, w) < MIN_SIDE:
                raise InputError(path, f"frames {too_small(w, h)}")
            ts = round(float(t), 4)
            fp = out_dir / f"{frame_name(ts)}.png"
            write_image(fp, rgb)
            rows.append({"time_s": ts, "frame_path": str(fp), "width": w, "height": h})
    except InputError:
        rows = []  # a rejected clip keeps no frames
        raise
    finally:
        _remove_other_frames(out_dir, {Path(r["frame_path"]).name for r in rows})
    write_record(done, depends, rows=rows)
    return rows


def _remove_other_frames(out_dir: Path, keep: set[str]) -> None:
    """Drop frame PNGs of an earlier extraction (other settings) or of a clip now rejected."""
    if out_dir.is_dir():
        for old in out_dir.iterdir():
            if _FRAME_FILE.match(old.name) and old.name not in keep:
                old.unlink()
