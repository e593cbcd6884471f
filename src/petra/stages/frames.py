"""``petra frames``: sample frames of each clip (per shard of identities; resumable per clip)."""
from __future__ import annotations

import argparse
from typing import Any, Mapping, Sequence

from ._common import add_identity_args, read_listing, rel, shards, summary
from petra.errors import InputError
from petra.io import rejects_frame, write_parquet
from petra.config import load
from petra.paths import clip_dir, stage_rejects, stage_table


def configure(parser: argparse.ArgumentParser) -> None:
    add_identity_args(parser)


def run_frames(cfg: Mapping[str, Any], shard: Sequence[str] | None = None,
               identity: Sequence[str] | None = None) -> dict[str, int]:
    """Extract frames of the chosen shards; write each shard's frames and rejects tables."""
    import pandas as pd
    from tqdm import tqdm

    from ..data.frames import extract_video
    from ..data.layout import clean_temporaries

    fc = cfg["frames"]
    listing = read_listing(cfg)
    groups = shards(cfg, shard, identity)
    counts = {"shards": len(groups), "videos": 0, "frames": 0, "rejected": 0}
    for sh, ids in groups.items():
        rows, rejects = [], []
        vids = listing[listing["identity"].isin(ids)]
        for v in tqdm(vids.itertuples(), total=len(vids), desc=f"frames {sh}", unit="video", disable=None):
            out = clip_dir(cfg, "frames", v.identity, v.video)
            clean_temporaries(out)
            try:
                frames = extract_video(v.path, out, fc)
            except InputError as err:
                rejects.append({"path": v.path, "stage": "frames", "reason": err.reason})
                continue
            counts["videos"] += 1
            for f in frames:
                rows.append({"identity": v.identity, "video": v.video, "time_s": f["time_s"],
                             "frame_path": rel(f["frame_path"]), "width": f["width"], "height": f["height"]})
        df = pd.DataFrame(rows, columns=["identity", "video", "time_s", "frame_path", "width", "height"])
        counts["frames"] += len(df)
        counts["rejected"] += len(rejects)
        write_parquet(stage_rejects(cfg, "frames", sh), rejects_frame(rejects))
        write_parquet(stage_table(cfg, "frames", sh), df)
    summary("frames", **counts)
    return counts


def main(args: argparse.Namespace) -> int:

    run_frames(load(args.params, args.profile), args.shard, args.identity)
    return 0
