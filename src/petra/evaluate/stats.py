"""Small statistics used by evaluation and the report: correlation, CI, ROC AUC."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Below this standard deviation a series counts as constant (landmark ratios are ~0.1–1).
CONSTANT_STD = 1e-9


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson r of two series, with the conventions documented in docs/evaluation.md.

    NaN pairs are dropped; fewer than 3 points or a constant *driving* series → NaN
    (nothing to follow); a constant *output* series under a moving driving one → 0
    (the output did not follow at all; e.g. the copy-target reference row).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3 or x.std() < CONSTANT_STD:
        return float("nan")
    if y.std() < CONSTANT_STD:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def mean_ci95(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, half-width of its 95% t-interval, and n (finite values only)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return float("nan"), float("nan"), 0
    if n == 1:
        return float(v[0]), float("nan"), 1
    from scipy import stats

    half = float(stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return float(v.mean()), half, n


def roc_auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Probability that a positive scores above a negative (ties count half)."""
    p = np.asarray(positive, dtype=np.float64)[:, None]
    n = np.asarray(negative, dtype=np.float64)[None, :]
    if p.size == 0 or n.size == 0:
        return float("nan")
    return float((p > n).mean() + 0.5 * (p == n).mean())
