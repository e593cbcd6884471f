"""Log the report to MLflow: one run per method variant, so `mlflow ui` compares them.

A ``report`` run holds the shared artifacts (table, figures) once; under it, one run per method
carries only the params that method's numbers depend on (:func:`petra.generators.method_params`
plus the evaluator settings), the table row as metrics (mean and ci95 per column) and the
method/profile/git tags. A registered trained method's newest model version gets the row as
``eval.*`` tags. Runs go to the experiment ``petra-<profile>-results``.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd


def method_params(cfg: Mapping[str, Any], method: str) -> dict[str, Any]:
    """What the method's numbers depend on: its own params and the evaluator settings (not the method list)."""
    from petra import generators

    evaluate = {k: v for k, v in cfg["evaluate"].items() if k != "methods"}
    return {"method": method, **generators.method_params(method, cfg), "evaluate": evaluate}


def row_metrics(row: pd.Series) -> dict[str, float]:
    return {str(k): float(v) for k, v in row.items()
            if k != "method" and isinstance(v, numbers.Real) and math.isfinite(float(v))}


def log_runs(cfg: Mapping[str, Any], table: pd.DataFrame, artifacts: Iterable[Path]) -> list[str]:
    """A report run with the shared artifacts, and one nested MLflow run per table row; returns the rows' run ids."""
    from petra import generators, tracking

    exp, profile = f"petra-{cfg['profile']}-results", str(cfg["profile"])
    parent = tracking.log_run(exp, "report", artifacts=[Path(a) for a in artifacts],
                              tags=tracking.run_tags(profile, "report"))
    ids = []
    for _, row in table.iterrows():
        method = str(row["method"])
        ids.append(tracking.log_run(exp, method, params=method_params(cfg, method), metrics=row_metrics(row),
                                    tags=tracking.run_tags(profile, "evaluate", method), parent=parent))
        if method in generators.trained_methods(cfg):
            tracking.tag_latest_version(method, row_metrics(row))
    return ids
