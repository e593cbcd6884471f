"""Frame extraction: one frame every ``interval_s`` seconds, at most ``max_per_video``.

A finished clip leaves ``frames.json`` beside its PNGs; a rerun reuses it, so an
interrupted job only redoes the clip it was on.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io import write_image, write_json
from ..media import MIN_SIDE
from .layout import frame_name
from petra.video import iter_frames


def extract_video(path: str | Path, out_dir: Path, interval_s: float, max_per_video: int,
                  max_side: int | None) -> list[dict[str, Any]]:
    """Write the sampled frames of one clip as PNGs; return (time_s, frame_path, width, height) rows.

    Raises InputError for clips that are unreadable, empty or whose frames are too small.
    """

    done = out_dir / "frames.json"
    if done.is_file():
        return json.loads(done.read_text(encoding="utf-8"))
    rows = []
    for t, rgb in iter_frames(path, max_side=max_side, interval_s=interval_s, max_frames=max_per_video):
        h, w = rgb.shape[:2]
        if min(h, w) < MIN_SIDE:
            raise InputError(path, f"frames too small ({w}x{h} px; need at least {MIN_SIDE} px per side)")
        fp = out_dir / f"{frame_name(t)}.png"
        write_image(fp, rgb)
        rows.append({"time_s": round(float(t), 4), "frame_path": str(fp), "width": w, "height": h})
    write_json(done, rows)
    return rows
