"""``petra align``: dlib-68 landmarks + FFHQ crop per frame (per shard; resumable per frame)."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ._common import add_identity_args, rel, shards, summary
from petra.errors import PetraError
from petra.io import rejects_frame, write_parquet
from petra.config import load
from petra.paths import frame_file, stage_dir, stage_rejects, stage_table

if TYPE_CHECKING:
    from pathlib import Path

ALIGNED_COLUMNS = ["identity", "video", "time_s", "frame_path", "aligned_path", "landmarks", "padded"]


def configure(parser: argparse.ArgumentParser) -> None:
    add_identity_args(parser)


def aligned_png(cfg: Mapping[str, Any], identity: str, video: str, time_s: float) -> "Path":
    """Where the crop of a frame goes: derived from (identity, video, time), like the frame itself."""

    return frame_file(cfg, "align", identity, video, time_s)


def run_align(cfg: Mapping[str, Any], shard: Sequence[str] | None = None,
              identity: Sequence[str] | None = None) -> dict[str, int]:
    """Align every extracted frame of the chosen shards; write aligned and rejects tables."""
    import time

    import numpy as np
    import pandas as pd
    from tqdm import tqdm

    from ..data.align import align_frame
    from ..data.landmarks import Landmarker
    from ..data.layout import clean_temporaries

    ac = cfg["align"]
    lmk = Landmarker(ac.get("upsample", 1), ac.get("detect_max_side", 320), ac.get("min_face_px", 40))
    groups = shards(cfg, shard, identity)
    counts = {"shards": len(groups), "frames": 0, "aligned": 0, "rejected": 0}
    t0 = time.perf_counter()
    for sh, ids in groups.items():
        src = stage_table(cfg, "frames", sh)
        if not src.is_file():
            raise PetraError(f"{src}: frames table missing; run `petra frames --shard {sh}` first")
        frames = pd.read_parquet(src)
        for ident in ids:
            clean_temporaries(stage_dir(cfg, "align", ident))
        rows, rejects = [], []
        for f in tqdm(frames.itertuples(), total=len(frames), desc=f"align {sh}", unit="frame", disable=None):
            png = aligned_png(cfg, f.identity, f.video, f.time_s)
            rec = align_frame(f.frame_path, png, lmk, ac)
            if "reject" in rec:
                rejects.append({"path": f.frame_path, "stage": "align", "reason": rec["reject"]})
                continue
            rows.append({"identity": f.identity, "video": f.video, "time_s": f.time_s, "frame_path": f.frame_path,
                         "aligned_path": rel(png), "landmarks": np.asarray(rec["landmarks"], np.float32).reshape(-1),
                         "padded": rec["padded"]})
        df = pd.DataFrame(rows, columns=ALIGNED_COLUMNS)
        counts["frames"] += len(frames)
        counts["aligned"] += len(df)
        counts["rejected"] += len(rejects)
        write_parquet(stage_rejects(cfg, "align", sh), rejects_frame(rejects))
        write_parquet(stage_table(cfg, "align", sh), df)
    dt = time.perf_counter() - t0
    summary("align", **counts, seconds=round(dt, 1), fps=round(counts["frames"] / dt, 2) if dt > 0 else 0)
    return counts


def main(args: argparse.Namespace) -> int:

    run_align(load(args.params, args.profile), args.shard, args.identity)
    return 0
