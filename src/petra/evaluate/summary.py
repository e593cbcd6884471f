"""From per-frame rows to per-pair metrics to one table row per method (pure pandas).

Frames of one pair are not independent, so every metric is first reduced to one
number per pair and the confidence interval is taken over pairs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import METRICS, PSNR_CAP, of_kind
from .stats import mean_ci95, pearson


def _series_corr(g: pd.DataFrame, names: tuple[str, ...], tag: str) -> float:
    """Mean over ``names`` of the Pearson r between driving and output series of a pair."""
    rs = [pearson(g[f"{n}_drv_{tag}"], g[f"{n}_out_{tag}"]) for n in names if f"{n}_drv_{tag}" in g]
    rs = [r for r in rs if np.isfinite(r)]
    return float(np.mean(rs)) if rs else float("nan")


def per_pair(frames: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, pair): mean errors/similarities and the series correlations.

    FL-CORR = ``fl_corr_<landmarks>``; FAU-CORR = ``fau_corr_opengraphau``; the
    landmark-geometry AU substitute = ``geom_au_corr_<landmarks>``.
    """
    out = []
    for (method, pair_id), g in frames.groupby(["method", "pair_id"], sort=True):
        g = g.sort_values("frame_index")
        row = {"method": method, "pair_id": pair_id, "kind": g["kind"].iloc[0], "n_frames": len(g)}
        cols = list(g.columns)
        for m in (*of_kind("cross"), *of_kind("self")):  # both kinds: a pair's row holds every metric its frames have
            if m.reduction == "mean":
                for c, name in m.frame_columns(cols).items():
                    v = g[c].astype(float)
                    row[name] = float(np.nanmean(np.minimum(v, PSNR_CAP) if m.key == "psnr" else v)) \
                        if v.notna().any() else np.nan
            else:
                for tag in m.series_tags(cols):
                    row[m.pair_column(tag)] = _series_corr(g, m.series, tag)
        if "face_found_out" in g:
            row["face_found_out"] = float(g["face_found_out"].mean())
        out.append(row)
    return pd.DataFrame(out)


def results_table(pairs: pd.DataFrame, method_order: list[str] | None = None) -> pd.DataFrame:
    """One row per method: n pairs and mean / ci95 of each metric, cross and self apart.

    Columns are ``<metric>`` (mean) and ``<metric>_ci95`` (half-width); self-reenactment
    metrics are prefixed ``self_`` where a cross metric has the same name (id_csim).
    """
    methods = method_order or sorted(pairs["method"].unique())
    rows = []
    for method in methods:
        row: dict[str, object] = {"method": method}
        for kind in ("cross", "self"):
            g = pairs[(pairs["method"] == method) & (pairs["kind"] == kind)]
            row[f"n_pairs_{kind}"] = len(g)
            present = [c for c in pairs.columns if len(g) and g[c].notna().any()]
            for m in of_kind(kind):
                cols = list(m.frame_columns(present)) if m.reduction == "mean" else \
                    sorted(c for c in present if c.startswith(m.key + "_"))
                for c in cols:
                    name = m.table_column(c)
                    mean, half, _ = mean_ci95(g[c])
                    row[name], row[f"{name}_ci95"] = mean, half
        rows.append(row)
    return pd.DataFrame(rows)


def paired_table(pairs: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Every method against ``reference`` on the same pairs: per metric the two means, the mean of the
    per-pair differences (method − reference) with its 95% interval, and whether the method is better
    beyond that interval. Frames of one pair are reduced first (as :func:`per_pair`), so the interval is
    over pairs and the pairing removes the pair-to-pair spread both methods share."""
    ref = pairs[pairs["method"] == reference]
    rows = []
    for method in [m for m in pairs["method"].unique() if m != reference]:
        mine = pairs[pairs["method"] == method]
        for kind in ("cross", "self"):
            a = mine[mine["kind"] == kind].set_index("pair_id")
            b = ref[ref["kind"] == kind].set_index("pair_id")
            common = a.index.intersection(b.index)
            for m in of_kind(kind):
                cols = list(m.frame_columns(list(a.columns))) if m.reduction == "mean" else \
                    sorted(c for c in a.columns if c.startswith(m.key + "_") and c in b.columns)
                for c in cols:
                    if c not in b.columns:
                        continue
                    d = (a.loc[common, c].astype(float) - b.loc[common, c].astype(float)).to_numpy()
                    diff, half, n = mean_ci95(d)
                    sign = 1.0 if m.higher_is_better else -1.0
                    rows.append({"method": method, "reference": reference, "kind": kind, "metric": m.table_column(c),
                                 "n_pairs": n, "method_mean": float(np.nanmean(a.loc[common, c])),
                                 "reference_mean": float(np.nanmean(b.loc[common, c])), "diff": diff,
                                 "diff_ci95": half, "better_beyond_ci": bool(np.isfinite(half) and sign * diff > half),
                                 "worse_beyond_ci": bool(np.isfinite(half) and -sign * diff > half)})
    return pd.DataFrame(rows)
