"""``petra manifest``: frames.parquet + rejects.parquet + identity split; logs the data run to MLflow."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Mapping

from ._common import read_listing, shards, summary
from petra.errors import PetraError
from petra.io import atomic_path, clean_temporaries, rejects_frame, write_json, write_parquet
from petra.config import load
from petra.tracking import log_run, run_tags
from petra.paths import ingest_rejects, manifest_dir, stage_rejects, stage_table

if TYPE_CHECKING:
    import pandas as pd

DATA_SECTIONS = ("profile", "seed", "dataset", "ingest", "frames", "align", "filter", "manifest")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the run to MLflow")


def run_manifest(cfg: Mapping[str, Any], mlflow: bool = True) -> "pd.DataFrame":
    """Assemble the manifest from the shard tables of every data stage (split over all listed identities)."""
    import pandas as pd

    from ..data.manifest import MANIFEST_COLUMNS, reject_counts, split_identities

    listing = read_listing(cfg)
    groups = shards(cfg)
    ids = sorted(i for g in groups.values() for i in g)
    kept, rejects, n_frames, n_aligned = [], [pd.read_parquet(ingest_rejects(cfg))], 0, 0
    for sh in groups:
        for stage in ("frames", "align", "filter"):
            p = stage_rejects(cfg, stage, sh)
            if not p.is_file():
                raise PetraError(f"{p}: missing; run `petra {stage} --shard {sh}` first")
            rejects.append(pd.read_parquet(p))
        n_frames += len(pd.read_parquet(stage_table(cfg, "frames", sh), columns=["time_s"]))
        pose = pd.read_parquet(stage_table(cfg, "filter", sh))
        n_aligned += len(pose)
        kept.append(pose[pose["kept"]])
    frames = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=MANIFEST_COLUMNS)
    official = dict(zip(listing["identity"], listing["official_split"].fillna("")))
    mc = cfg["manifest"]
    split = split_identities(ids, mc["split"], mc["split_seed"], official)
    frames["split"] = frames["identity"].map(split)
    frames = frames[MANIFEST_COLUMNS].sort_values(["identity", "video", "time_s"], kind="stable").reset_index(drop=True)
    frames = frames.astype({"identity": "string", "video": "string", "frame_path": "string",
                            "aligned_path": "string", "pose_backend": "string", "split": "string",
                            "time_s": "float64", "yaw": "float64", "pitch": "float64", "roll": "float64"})
    frames["landmarks"] = [list(map(float, lm)) for lm in frames["landmarks"]]
    rej = pd.concat([r.astype("string") for r in rejects], ignore_index=True)
    rej = rejects_frame(rej.to_dict("records"))
    out = manifest_dir(cfg)
    import pyarrow as pa
    import pyarrow.parquet as pq


    table = pa.Table.from_pandas(frames, preserve_index=False)
    lm_idx = table.schema.get_field_index("landmarks")
    table = table.set_column(lm_idx, pa.field("landmarks", pa.list_(pa.float32())),
                             pa.array(frames["landmarks"].tolist(), type=pa.list_(pa.float32())))
    clean_temporaries(out, of="frames.parquet")  # what a killed run left
    with atomic_path(out / "frames.parquet") as tmp:
        pq.write_table(table, tmp)
    write_parquet(out / "rejects.parquet", rej)
    by_reason = reject_counts(rej)
    counts = {"identities_listed": len(ids), "videos": len(listing), "frames": n_frames, "aligned": n_aligned,
              "kept": len(frames), "identities": int(frames["identity"].nunique()), "rejected": len(rej),
              **{f"split_{s}_identities": sum(1 for v in split.values() if v == s) for s in ("train", "val", "test")}}
    write_json(out / "summary.json", {"counts": counts, "rejected_by_reason": by_reason,
                                      "pose_backend": sorted(set(frames["pose_backend"]))})
    if mlflow:

        log_run("petra-data", f"data-{cfg['profile']}",
                params={k: cfg[k] for k in DATA_SECTIONS if k in cfg},
                metrics={**counts, **{f"rejected/{k}": v for k, v in by_reason.items()}},
                artifacts=[out / "summary.json"], tags=run_tags(cfg["profile"], "data"))
    summary("manifest", **{k: counts[k] for k in ("identities", "videos", "frames", "kept", "rejected")})
    return frames


def main(args: argparse.Namespace) -> int:

    run_manifest(load(args.params, args.profile), mlflow=not args.no_mlflow)
    return 0
