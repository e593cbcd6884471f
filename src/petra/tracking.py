"""MLflow helpers: local sqlite tracking under the project, one call to log a run.

Tracking goes to ``sqlite:///<project>/mlflow.db`` with artifacts in ``<project>/mlruns``
unless ``MLFLOW_TRACKING_URI`` is set (tests point it at a temp folder). mlflow is
imported only when a run is logged: it costs seconds of start-up.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

MAX_PARAM_LEN = 6000  # mlflow's limit on a param value


def flatten(d: Mapping[str, Any], prefix: str = "", sep: str = ".") -> dict[str, Any]:
    """Nested mapping → {"a.b.c": value}; lists/None become strings (MLflow params are strings)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{sep}{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key, sep))
        else:
            out[key] = v
    return out


def metric_key(text: str) -> str:
    """A string → a valid MLflow key (letters, digits, _ - . / and space allowed)."""
    text = re.sub(r"\([^)]*\)", "", text)  # drop parenthesised numbers/details
    text = re.sub(r"[^A-Za-z0-9_./ -]+", "_", text).strip(" _").replace(" ", "_")
    return re.sub(r"_+", "_", text) or "unknown"


def tracking_uri(root: str | Path | None = None) -> str:
    """``$MLFLOW_TRACKING_URI`` or the project's sqlite file."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    root = Path(root or Path.cwd()).resolve()
    return f"sqlite:///{root / 'mlflow.db'}"


def _experiment(mlflow: Any, name: str, root: Path) -> str:
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    artifacts = (root / "mlruns").resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    return mlflow.create_experiment(name, artifact_location=artifacts.as_uri())


def log_run(experiment: str, run_name: str, params: Mapping[str, Any] | None = None,
            metrics: Mapping[str, float] | None = None, artifacts: Iterable[str | Path] = (),
            tags: Mapping[str, str] | None = None, root: str | Path | None = None) -> str:
    """Log one finished run (flattened params, metrics, artifact files); returns its run id."""
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
    import mlflow

    root = Path(root or Path.cwd())
    mlflow.set_tracking_uri(tracking_uri(root))
    exp_id = _experiment(mlflow, experiment, root)
    flat = {k: str(v)[:MAX_PARAM_LEN] for k, v in flatten(params or {}).items()}
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
        if tags:
            mlflow.set_tags(dict(tags))
        items = list(flat.items())
        for i in range(0, len(items), 100):
            mlflow.log_params(dict(items[i:i + 100]))
        if metrics:
            mlflow.log_metrics({metric_key(k): float(v) for k, v in metrics.items()})
        for a in artifacts:
            if Path(a).is_file():
                mlflow.log_artifact(str(a))
        return run.info.run_id
