"""The train stage: one variant = one params set = one run folder = one MLflow run.

``run_train(cfg, variant)`` resolves ``train`` + ``train.variants[variant]``,
builds the generator's recipe (:data:`petra.train.recipe.RECIPES`), runs
:func:`petra.train.loop.setup` / :func:`~petra.train.loop.train_loop` in
``<paths.models>/train/<method>/`` (method = ``sg2-ours`` …) and logs the run to
MLflow (params, final and per-tick losses, validation losses, run files).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..data.layout import frames_manifest
from .recipe import method_name, variant_params


def run_dir(cfg: Mapping[str, Any], variant: str) -> Path:
    return Path(cfg["paths"]["models"]) / "train" / method_name(cfg, variant)


def run_train(
    cfg: Mapping[str, Any],
    variant: str,
    manifest: str | Path | None = None,
    out_dir: str | Path | None = None,
    root: str | Path = ".",
    recipe: Any = None,
    track: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train (or resume) one variant; returns the loop's summary."""
    import pandas as pd

    from .loop import setup, train_loop

    manifest = frames_manifest(cfg, manifest)
    params = variant_params(cfg, variant)
    out = Path(out_dir or run_dir(cfg, variant))
    state = setup(cfg, params, out, pd.read_parquet(manifest), recipe=recipe, root=root, log=log)
    t0 = time.time()
    summary = train_loop(state)
    if track and state.rank == 0:
        summary["mlflow_run_id"] = log_training_run(cfg, method_name(cfg, variant), params, out)
    log(f"train {method_name(cfg, variant)}: {summary['steps']} steps ({summary['steps_this_run']} now, "
        f"{time.time() - t0:.1f} s), last total {summary['last'].get('total', float('nan')):.4f}, "
        f"{len(summary['checkpoints'])} checkpoints in {out}")
    return summary


def log_training_run(cfg: Mapping[str, Any], method: str, params: Mapping[str, Any], out: Path) -> str:
    """One MLflow run per variant via :mod:`petra.tracking`, plus the per-tick loss history."""
    import json

    from .. import tracking

    def rows(name: str) -> list[dict[str, Any]]:
        p = out / name
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()] if p.is_file() else []

    hist, val = rows("metrics.jsonl"), rows("val.jsonl")
    final = {f"train_{k}": v for k, v in (hist[-1] if hist else {}).items() if k != "step"}
    final.update({k: v for k, v in (val[-1] if val else {}).items() if k != "step"})
    run_id = tracking.log_run(
        experiment=f"petra-train-{cfg['profile']}", run_name=method,
        params={"method": method, "generator": cfg["generator"]["name"], "train": dict(params),
                cfg["generator"]["name"]: cfg.get(cfg["generator"]["name"], {})},
        metrics=final, artifacts=[out / "training_options.json", out / "metrics.jsonl", out / "val.jsonl"],
        tags={"stage": "train", "profile": cfg["profile"]},
    )
    import time as _t

    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking.tracking_uri())
    now = int(_t.time() * 1000)
    metrics = [Metric(tracking.metric_key(prefix + k), float(v), now, int(r["step"]))
               for prefix, rs in (("train_", hist), ("", val)) for r in rs for k, v in r.items() if k != "step"]
    for i in range(0, len(metrics), 500):
        client.log_batch(run_id, metrics=metrics[i : i + 500])
    return run_id
