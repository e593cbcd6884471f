"""The train stage, generator-agnostic: one trained method = one params set = one run folder
= one MLflow run.

``run_train(cfg, method, params, recipe, manifest)`` runs :func:`petra.train.loop.setup`
/ :func:`~petra.train.loop.train_loop` in :func:`run_dir` (``<paths.models>/train/<method>/``,
the one run-folder convention of every generator) and logs the run to MLflow (params,
final and per-tick losses, validation losses, run files, the last checkpoint). The
generator's ``prepare_training`` hook (see :mod:`petra.generators`) supplies params and
recipe; this package never imports a generator.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from petra.paths import run_dir

from petra.io import sidecar, write_json


def run_train(
    cfg: Mapping[str, Any],
    method: str,
    params: Mapping[str, Any],
    recipe: Any,
    manifest: pd.DataFrame,  # noqa: F821
    out_dir: str | Path | None = None,
    root: str | Path = ".",
    track: bool = True,
    log: Callable[[str], None] = print,
    mlflow_params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train (or resume) one method; returns the loop's summary (also in ``summary.json``).
    ``mlflow_params``: what the run logs as params (the train rule's params: only what the method reads)."""

    from .loop import setup, train_loop

    out = Path(out_dir or run_dir(cfg, method))
    state = setup(cfg, params, out, manifest, recipe=recipe, root=root, log=log)
    t0 = time.time()
    summary = train_loop(state)
    summary["wall_seconds"] = round(time.time() - t0, 1)
    if track and state.rank == 0:
        summary["mlflow_run_id"] = log_training_run(cfg, method, mlflow_params or {"train": dict(params)}, out)
        _log_checkpoint(summary["mlflow_run_id"], out)
    if state.rank == 0:
        write_json(out / "summary.json", summary)  # + wall time and the MLflow run id
    log(f"train {method}: {summary['steps']} steps ({summary['steps_this_run']} now, {summary['wall_seconds']} s), "
        f"last total {summary['last'].get('total', float('nan')):.4f}, {len(summary['checkpoints'])} checkpoints in {out}")
    return summary


def _log_checkpoint(run_id: str, run_dir: Path) -> None:
    """Store the latest checkpoint (and its sha256) with the method's MLflow run."""
    from petra import tracking

    from .checkpoint import latest_checkpoint

    path = latest_checkpoint(run_dir)
    if path is not None:
        tracking.log_artifacts(run_id, [path, sidecar(path)], "checkpoints")


def log_training_run(cfg: Mapping[str, Any], method: str, params: Mapping[str, Any], out: Path) -> str:
    """One MLflow run per variant via :mod:`petra.tracking` (``params``: what the method reads), plus the
    per-tick loss history."""
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
        params=dict(params),
        metrics=final, artifacts=[out / "training_options.json", out / "metrics.jsonl", out / "val.jsonl"],
        tags=tracking.run_tags(cfg["profile"], "train", method),
    )
    tracking.log_history(run_id, [(prefix + k, v, r["step"]) for prefix, rs in (("train_", hist), ("", val))
                                  for r in rs for k, v in r.items() if k != "step"])
    return run_id
