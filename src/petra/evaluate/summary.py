"""From per-frame rows to per-pair metrics to one table row per method (pure pandas).

Frames of one pair are not independent, so every metric is first reduced to one
number per pair and the confidence interval is taken over pairs.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .action_units import OPENGRAPHAU_NAMES
from .ratios import GEOM_AU_NAMES, RATIO_NAMES
from .stats import mean_ci95, pearson

# per-frame columns averaged per pair (prefix match, the rest of the name is the backend)
_MEANS = ("pose_yaw_ae_", "pose_pitch_ae_", "id_csim_", "lpips_", "akd_", "aed_")
_SELF_PLAIN = ("l1", "psnr", "ssim")


def _series_corr(g: pd.DataFrame, names: tuple[str, ...], tag: str) -> float:
    """Mean over ``names`` of the Pearson r between driving and output series of a pair."""
    rs = [pearson(g[f"{n}_drv_{tag}"], g[f"{n}_out_{tag}"]) for n in names if f"{n}_drv_{tag}" in g]
    rs = [r for r in rs if np.isfinite(r)]
    return float(np.mean(rs)) if rs else float("nan")


def _tags(columns: pd.Index, names: tuple[str, ...]) -> list[str]:
    pat = re.compile(rf"^{re.escape(names[0])}_drv_(.+)$")
    return sorted({m.group(1) for c in columns if (m := pat.match(c))})


def per_pair(frames: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, pair): mean errors/similarities and the series correlations.

    FL-CORR = ``fl_corr_<landmarks>``; FAU-CORR = ``fau_corr_opengraphau``; the
    landmark-geometry AU substitute = ``geom_au_corr_<landmarks>``.
    """
    out = []
    psnr_cap = 100.0  # identical images give inf dB; cap so that means stay finite
    for (method, pair_id), g in frames.groupby(["method", "pair_id"], sort=True):
        g = g.sort_values("frame_index")
        row = {"method": method, "pair_id": pair_id, "kind": g["kind"].iloc[0], "n_frames": len(g)}
        for c in g.columns:
            if c.startswith(_MEANS) or c in _SELF_PLAIN:
                v = g[c].astype(float)
                row[c] = float(np.nanmean(np.minimum(v, psnr_cap) if c == "psnr" else v)) if v.notna().any() else np.nan
        for tag in _tags(g.columns, RATIO_NAMES):
            row[f"fl_corr_{tag}"] = _series_corr(g, RATIO_NAMES, tag)
        for tag in _tags(g.columns, OPENGRAPHAU_NAMES):  # FAU-CORR: all 41 AU probabilities
            row[f"fau_corr_{tag}"] = _series_corr(g, OPENGRAPHAU_NAMES, tag)
        for tag in _tags(g.columns, GEOM_AU_NAMES):
            row[f"geom_au_corr_{tag.removeprefix('geom')}"] = _series_corr(g, GEOM_AU_NAMES, tag)
        if "face_found_out" in g:
            row["face_found_out"] = float(g["face_found_out"].mean())
        out.append(row)
    return pd.DataFrame(out)


CROSS_ORDER = ("pose_mae_yaw_", "pose_mae_pitch_", "fl_corr_", "fau_corr_", "geom_au_corr_", "id_csim_")
SELF_ORDER = ("l1", "psnr", "ssim", "lpips_", "akd_", "aed_", "id_csim_")
HIGHER_IS_BETTER = ("fl_corr_", "fau_corr_", "geom_au_corr_", "id_csim_", "psnr", "ssim")


def _ordered(cols: list[str], order: tuple[str, ...]) -> list[str]:
    return [c for p in order for c in sorted(cols) if c == p or (p.endswith("_") and c.startswith(p))]


def results_table(pairs: pd.DataFrame, method_order: list[str] | None = None) -> pd.DataFrame:
    """One row per method: n pairs and mean / ci95 of each metric, cross and self apart.

    Columns are ``<metric>`` (mean) and ``<metric>_ci95`` (half-width); self-reenactment
    metrics are prefixed ``self_`` where a cross metric has the same name (id_csim).
    """
    pp = pairs.rename(columns=lambda c: c.replace("pose_yaw_ae_", "pose_mae_yaw_").replace("pose_pitch_ae_", "pose_mae_pitch_"))
    methods = method_order or sorted(pp["method"].unique())
    rows = []
    for m in methods:
        row: dict[str, object] = {"method": m}
        for kind, order, prefix in (("cross", CROSS_ORDER, ""), ("self", SELF_ORDER, "self_")):
            g = pp[(pp["method"] == m) & (pp["kind"] == kind)]
            row[f"n_pairs_{kind}"] = len(g)
            cols = _ordered([c for c in pp.columns if g[c].notna().any()] if len(g) else [], order)
            for c in cols:
                name = f"{prefix}{c}" if (kind == "self" and c.startswith("id_csim_")) else c
                mean, half, _ = mean_ci95(g[c])
                row[name], row[f"{name}_ci95"] = mean, half
        rows.append(row)
    return pd.DataFrame(rows)
