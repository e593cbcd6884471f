"""Per-frame alignment with a resumable record: landmarks, FFHQ crop, or a reject reason.

Each frame leaves ``<stem>.json`` after its crop PNG is in place; a rerun trusts the
record and skips the frame, so a killed job only redoes the frame it was on.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..io import write_image, write_json
from ..media import read_image
from .ffhq import align_face
from .landmarks import Landmarker


def align_frame(frame_path: str | Path, out_png: Path, landmarker: Landmarker, size: int) -> dict[str, Any]:
    """Align one frame (or reuse its record). Returns the record: landmarks or ``reject``."""
    record = out_png.with_suffix(".json")
    if record.is_file():
        rec = json.loads(record.read_text(encoding="utf-8"))
        if "reject" in rec or out_png.is_file():
            return rec
    try:
        rgb = read_image(frame_path)
        lm_src = landmarker(rgb, frame_path)
        out = align_face(rgb, lm_src, size)
    except InputError as err:
        rec = {"reject": err.reason}
        write_json(record, rec)
        return rec
    write_image(out_png, out.image)
    rec = {"landmarks": np.round(out.landmarks, 3).tolist(), "landmarks_src": lm_src.tolist(),
           "padded": out.padded}
    write_json(record, rec)
    return rec
