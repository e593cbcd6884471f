"""``petra filter``: head pose of every aligned frame; drop extreme poses (per identity)."""
from __future__ import annotations

import argparse
from typing import Any, Mapping, Sequence

from ._common import add_identity_args, shards, summary
from petra.errors import InputError, PetraError
from petra.io import rejects_frame, write_parquet
from petra.media import read_image
from petra.config import load
from petra.paths import stage_rejects, stage_table


def configure(parser: argparse.ArgumentParser) -> None:
    add_identity_args(parser)


def run_filter(cfg: Mapping[str, Any], shard: Sequence[str] | None = None,
               identity: Sequence[str] | None = None) -> dict[str, int]:
    """Write each shard's pose table (aligned rows + yaw/pitch/roll/pose_backend/kept) and rejects."""
    import json
    from pathlib import Path

    import pandas as pd
    from tqdm import tqdm

    from ..data.pose_filter import alignment_roll, make_estimator, pose_reject_reason

    fc = cfg["filter"]
    est = make_estimator(cfg)
    backend = getattr(est, "name", type(est).__name__)
    groups = shards(cfg, shard, identity)
    counts = {"shards": len(groups), "frames": 0, "kept": 0, "rejected": 0}
    for sh in groups:
        src = stage_table(cfg, "align", sh)
        if not src.is_file():
            raise PetraError(f"{src}: aligned table missing; run `petra align --shard {sh}` first")
        df = pd.read_parquet(src)
        poses, rejects = [], []
        for r in tqdm(df.itertuples(), total=len(df), desc=f"filter {sh}", unit="frame", disable=None):
            rec = json.loads(Path(r.aligned_path).with_suffix(".json").read_text(encoding="utf-8"))
            try:
                p = est.estimate(read_image(r.aligned_path))
                yaw, pitch, roll = float(p.yaw), float(p.pitch), float(p.roll) + alignment_roll(rec["landmarks_src"])
                roll = (roll + 180.0) % 360.0 - 180.0
                reason = pose_reject_reason(yaw, pitch, fc["max_yaw"], fc["max_pitch"])
            except InputError as err:
                yaw = pitch = roll = float("nan")
                reason = f"pose: {err.reason}"
            poses.append((yaw, pitch, roll, reason is None))
            if reason:
                rejects.append({"path": r.aligned_path, "stage": "filter", "reason": reason})
        out = df.copy()
        out["yaw"] = [p[0] for p in poses]
        out["pitch"] = [p[1] for p in poses]
        out["roll"] = [p[2] for p in poses]
        out["pose_backend"] = backend
        out["kept"] = [p[3] for p in poses]
        counts["frames"] += len(out)
        counts["kept"] += int(out["kept"].sum()) if len(out) else 0
        counts["rejected"] += len(rejects)
        write_parquet(stage_rejects(cfg, "filter", sh), rejects_frame(rejects))
        write_parquet(stage_table(cfg, "filter", sh), out)
    summary("filter", backend=backend, **counts)
    return counts


def main(args: argparse.Namespace) -> int:

    run_filter(load(args.params, args.profile), args.shard, args.identity)
    return 0
