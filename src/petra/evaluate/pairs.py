"""The fixed evaluation pair list: test identities only, drawn from one seed.

One row per driven frame. Cross-reenactment: a target frame of identity T and the
first ``frames_per_video`` frames of a video of identity D ≠ T. Self-reenactment:
the first frame of a video is the target and its later frames are driving frames
and ground truth at once. The driving video's first frame is the reference that
relative methods subtract (``reference_path``).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

PAIR_COLUMNS = (
    "pair_id", "kind", "target_identity", "target_video", "target_path",
    "driving_identity", "driving_video", "reference_path", "frame_index", "time_s", "driving_path",
)
MIN_FRAMES = 3  # a correlation over fewer frames means nothing


def _videos(test: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {v: g.sort_values("time_s").reset_index(drop=True) for v, g in test.groupby("video", sort=True)}


def make_pairs(manifest: pd.DataFrame, n_cross: int, n_self: int, frames_per_video: int, seed: int,
               splits: Sequence[str] = ("test",)) -> pd.DataFrame:
    """Build the pair table from the manifest rows whose split is in ``splits`` (the test split;
    tiny CI profiles may add ``val`` so that two identities exist)."""
    test = manifest[manifest["split"].isin(list(splits))]
    videos = _videos(test)
    ident = {v: str(g["identity"].iloc[0]) for v, g in videos.items()}
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []

    # cross: every (driving video, target identity ≠ driver) combination, shuffled, first n_cross
    drivers = [v for v, g in videos.items() if len(g) >= MIN_FRAMES]
    first_of_identity: dict[str, list[str]] = {}
    for v in videos:
        first_of_identity.setdefault(ident[v], []).append(v)
    combos = [(d, t) for d in drivers for t in sorted(first_of_identity) if t != ident[d]]
    order = rng.permutation(len(combos)) if combos else []
    # spread over driving videos: take the shuffled combos round-robin by driver
    picked: list[tuple[str, str]] = []
    shuffled = [combos[i] for i in order]
    rounds: dict[str, list[tuple[str, str]]] = {}
    for d, t in shuffled:
        rounds.setdefault(d, []).append((d, t))
    driver_order = list(dict.fromkeys(d for d, _ in shuffled))
    while len(picked) < n_cross and any(rounds.values()):
        for d in driver_order:
            if rounds[d] and len(picked) < n_cross:
                picked.append(rounds[d].pop(0))
    for k, (d, t) in enumerate(picked):
        tvids = first_of_identity[t]
        tvid = tvids[int(rng.integers(len(tvids)))]
        target = videos[tvid].iloc[0]
        drv = videos[d].head(frames_per_video)
        for i, fr in drv.iterrows():
            rows.append(_row(f"cross-{k:03d}", "cross", target, drv.iloc[0], fr, int(i)))

    # self: first frame is the target, the next frames_per_video frames are driven
    selfs = [v for v, g in videos.items() if len(g) >= MIN_FRAMES + 1]
    for k, vi in enumerate(rng.permutation(len(selfs))[:n_self] if selfs else []):
        g = videos[selfs[vi]]
        target = g.iloc[0]
        for i, fr in g.iloc[1 : frames_per_video + 1].iterrows():
            rows.append(_row(f"self-{k:03d}", "self", target, target, fr, int(i)))
    return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))


def _row(pair_id: str, kind: str, target: pd.Series, ref: pd.Series, fr: pd.Series, index: int) -> dict[str, Any]:
    return {
        "pair_id": pair_id, "kind": kind,
        "target_identity": str(target["identity"]), "target_video": str(target["video"]),
        "target_path": str(target["aligned_path"]),
        "driving_identity": str(fr["identity"]), "driving_video": str(fr["video"]),
        "reference_path": str(ref["aligned_path"]),
        "frame_index": index, "time_s": float(fr["time_s"]), "driving_path": str(fr["aligned_path"]),
    }
