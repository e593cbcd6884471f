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
from typing import TYPE_CHECKING, Any

from petra.paths import run_dir

from petra.io import sidecar, write_json

if TYPE_CHECKING:  # annotations only: pandas loads when a function needs it
    import pandas as pd


def run_train(
    cfg: Mapping[str, Any],
    method: str,
    params: Mapping[str, Any],
    recipe: Any,
    manifest: pd.DataFrame,
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
    live = _live_run(cfg, method, mlflow_params or {"train": dict(params)}, out, log) if track else None
    state = setup(cfg, params, out, manifest, recipe=recipe, root=root, log=log, tracker=live)
    t0 = time.time()
    try:
        summary = train_loop(state)
    except BaseException:
        if live is not None:
            live.finish("KILLED")
        raise
    summary["wall_seconds"] = round(time.time() - t0, 1)
    if live is not None and state.rank == 0:
        if "check" in summary:  # train.steps 0: which file this run checked, findable in the MLflow UI
            live.set_tags({"petra.check": Path(summary["check"]["init"]).name,
                           "petra.init_sha256": summary["check"]["init_sha256"]})
        summary["mlflow_run_id"] = finish_training_run(live, out)
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


def _live_run(cfg: Mapping[str, Any], method: str, params: Mapping[str, Any], out: Path,
              log: Callable[[str], None]) -> Any:
    """The method's MLflow run, open while it trains (a resumed run continues the run it started,
    recorded in ``<run>/mlflow_run.json``); None when MLflow cannot be reached."""
    import json
    import os

    from petra import tracking

    if int(os.environ.get("RANK", "0")) != 0:
        return None
    record = out / "mlflow_run.json"
    previous = json.loads(record.read_text()).get("run_id") if record.is_file() else None
    try:
        try:
            live = tracking.LiveRun(f"petra-train-{cfg['profile']}", method, params,
                                    tracking.run_tags(cfg["profile"], "train", method), run_id=previous)
        except Exception:  # noqa: BLE001 - the recorded run is gone (a new store): start a new one
            if previous is None:
                raise
            live = tracking.LiveRun(f"petra-train-{cfg['profile']}", method, params,
                                    tracking.run_tags(cfg["profile"], "train", method))
    except Exception as err:  # noqa: BLE001 - bookkeeping only
        log(f"train {method}: MLflow not available ({err}); logging to the run folder only")
        return None
    write_json(record, {"run_id": live.run_id})
    log(f"train {method}: MLflow run {live.run_id} (live: losses per tick, validation, sample grids)")
    return live


def finish_training_run(live: Any, out: Path) -> str:
    """Close the live run with the run folder's options and loss logs attached."""
    for name in ("training_options.json", "metrics.jsonl", "val.jsonl"):
        live.log_artifact(out / name)
    return live.finish("FINISHED")
