"""The manifest: kept frames with landmarks, pose and an identity-disjoint split."""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

SPLITS = ("train", "val", "test")
MANIFEST_COLUMNS = ["identity", "video", "time_s", "frame_path", "aligned_path", "landmarks", "yaw", "pitch",
                    "roll", "pose_backend", "split", "padded"]


def split_identities(identities: Sequence[str], fractions: Mapping[str, float], seed: int,
                     official: Mapping[str, str] | None = None) -> dict[str, str]:
    """identity → train/val/test, identity-disjoint and a pure function of (identities, seed).

    Identities in ``official`` marked ``test`` (VoxCeleb2's test list) are always
    test; the rest are shuffled with ``seed`` and cut by the fractions (each split
    gets at least one identity when there are enough).
    """
    official = official or {}
    forced = sorted(i for i in set(identities) if official.get(i) == "test")
    free = sorted(set(identities) - set(forced))
    order = [free[i] for i in np.random.default_rng(seed).permutation(len(free))]
    total = sum(float(fractions[s]) for s in SPLITS) or 1.0
    n = len(order)
    if forced:  # official test set: the free identities are split train/val only
        n_test = 0
        n_val = int(round(n * float(fractions["val"]) / max(total - float(fractions["test"]), 1e-9)))
    else:
        n_test = int(round(n * float(fractions["test"]) / total))
        n_val = int(round(n * float(fractions["val"]) / total))
        if n >= 3:
            n_test = max(n_test, 1 if fractions["test"] > 0 else 0)
            n_val = max(n_val, 1 if fractions["val"] > 0 else 0)
    n_val = min(n_val, n - n_test)
    out = {i: "test" for i in forced}
    for k, ident in enumerate(order):
        out[ident] = "test" if k < n_test else "val" if k < n_test + n_val else "train"
    return out


def reject_counts(rejects: "pd.DataFrame") -> dict[str, int]:
    """{"<stage>: <reason without details>": count} for summaries and MLflow."""
    import re

    out: dict[str, int] = {}
    for stage, reason in zip(rejects["stage"], rejects["reason"]):
        key = f"{stage}: {re.sub(r'[(].*?[)]', '', str(reason)).strip()}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))
