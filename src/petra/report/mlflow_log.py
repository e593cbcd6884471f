"""Log the report to MLflow: one run per method variant, so `mlflow ui` compares them.

Each run carries the params that produced the method's numbers (flattened by
:mod:`petra.tracking`), the table row as metrics (mean and ci95 per column), and the
table and figures as artifacts. Runs go to the experiment ``petra-<profile>-results``.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd


def method_params(cfg: Mapping[str, Any], method: str) -> dict[str, Any]:
    """Params worth comparing across variants: everything but paths and the profile table."""
    keep = {k: v for k, v in cfg.items() if k not in ("paths", "profiles")}
    return {"method": method, **keep}


def row_metrics(row: pd.Series) -> dict[str, float]:
    return {str(k): float(v) for k, v in row.items()
            if k != "method" and isinstance(v, numbers.Real) and math.isfinite(float(v))}


def log_runs(cfg: Mapping[str, Any], table: pd.DataFrame, artifacts: Iterable[Path]) -> list[str]:
    """One MLflow run per table row; returns the run ids."""
    from petra import tracking

    artifacts = [Path(a) for a in artifacts]
    ids = []
    for _, row in table.iterrows():
        method = str(row["method"])
        ids.append(tracking.log_run(
            f"petra-{cfg['profile']}-results", method, params=method_params(cfg, method), metrics=row_metrics(row),
            artifacts=artifacts, tags={"petra.profile": str(cfg["profile"]), "petra.stage": "report",
                                       "petra.method": method},
        ))
    return ids
