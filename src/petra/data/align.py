"""Per-frame alignment with a resumable record: landmarks, FFHQ crop, or a reject reason.

Each frame leaves ``<stem>.json`` after its crop PNG is in place. A rerun trusts the
record only when it was made from the same frame file (size, mtime) with the same
``align`` settings, so a killed job only redoes the frame it was on, and a changed
setting (``align.size``, ``align.mode``) or a re-extracted frame is redone.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import InputError
from ..io import write_image
from ..media import read_image
from .align_modes import align_by_mode
from .landmarks import Landmarker
from .layout import fingerprint, read_record, write_record

VERSION = 1  # bump when the alignment itself changes (records of older versions are redone)


def align_frame(frame_path: str | Path, out_png: Path, landmarker: Landmarker,
                settings: Mapping[str, Any]) -> dict[str, Any]:
    """Align one frame (or reuse its record). Returns the record: landmarks or ``reject``."""
    record = out_png.with_suffix(".json")
    depends = {"version": VERSION, "settings": dict(settings), "source": fingerprint(frame_path)}
    rec = read_record(record, depends)
    if rec is not None and ("reject" in rec or out_png.is_file()):
        return rec
    try:
        rgb = read_image(frame_path)
        lm_src = landmarker(rgb, frame_path)
        out = align_by_mode(rgb, lm_src, int(settings["size"]), str(settings.get("mode", "direct")))
    except InputError as err:
        if out_png.is_file():  # the crop of an earlier run with other settings
            out_png.unlink()
        return write_record(record, depends, reject=err.reason)
    write_image(out_png, out.image)
    return write_record(record, depends, landmarks=np.round(out.landmarks, 3).tolist(),
                        landmarks_src=lm_src.tolist(), padded=out.padded)
