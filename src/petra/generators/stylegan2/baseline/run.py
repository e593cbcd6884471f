"""The baseline stage: per-video neutral codes for the latent-arithmetic baseline.

For each encoder (pSp, e4e) it reads the latents stage's W+ (frames and flips),
averages them per video (:func:`~petra.generators.stylegan2.baseline.arithmetic.video_neutrals`) and
writes ``<paths.data>/baseline/<encoder>/neutrals.pt`` (a latents shard: keys =
video ids, ``w`` [V, n, 512]) and ``frames.parquet`` (aligned_path, video,
pixel_key) so the ``sg2-baseline-<encoder>`` Reenactor recognises manifest frames
and uses their video's neutral and stored code, as the thesis did.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from petra.paths import frames_manifest
from petra.io import write_parquet
from petra.latents import store as S
from .arithmetic import pixel_key, video_neutrals
from petra.media import read_image
from petra.paths import baseline_dir, latents_dir


def run_baseline(cfg: Mapping[str, Any], encoder: str, manifest: str | Path | None = None,
                 root: str | Path = ".", log: Callable[[str], None] = print) -> dict[str, Any]:
    import pandas as pd
    import torch


    t0 = time.time()
    manifest = frames_manifest(cfg, manifest)
    df = pd.read_parquet(manifest, columns=["aligned_path", "video"])
    store = S.LatentStore(latents_dir(cfg, encoder))
    df = df[df["aligned_path"].isin(set(store.keys()))]
    frames = {v: sorted(g["aligned_path"]) for v, g in df.groupby("video")}
    neutrals = video_neutrals(frames, lambda keys, name: store.get(keys, name))
    out = baseline_dir(cfg, encoder)
    videos = sorted(neutrals)
    S.write_shard(out / "neutrals.pt", videos, {"w": torch.stack([neutrals[v] for v in videos]).numpy()})
    keys = [pixel_key(read_image(Path(root) / p)) for p in df["aligned_path"]]
    write_parquet(out / "frames.parquet", pd.DataFrame({"aligned_path": df["aligned_path"].tolist(),
                                                        "video": df["video"].tolist(), "pixel_key": keys}))
    summary = {"encoder": encoder, "videos": len(videos), "frames": len(df), "seconds": round(time.time() - t0, 2)}
    log(f"baseline {encoder}: neutral codes of {len(videos)} videos from {len(df)} frames (+ flips), {summary['seconds']} s")
    return summary
