"""MLflow helpers: local sqlite tracking under the project, one call to log a run.

Tracking goes to ``sqlite:///<project>/mlflow.db`` with artifacts in ``<project>/mlruns``
unless ``MLFLOW_TRACKING_URI`` is set (tests point it at a temp folder). mlflow is
imported only when a run is logged: it costs seconds of start-up.

Every MLflow write in petra goes through this module. Parallel jobs (Snakemake runs
several stages at once) share one sqlite file, so the database and each experiment are
created under a file lock (``<db>.lock``; creating them is check-then-create inside
MLflow), a new database is built under a temporary name and renamed into place (a kill
during MLflow's migrations cannot leave it half-built), and each write is retried when
sqlite answers "database is locked".
"""
from __future__ import annotations

import contextlib
import os
import random
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

from .io import atomic_path

T = TypeVar("T")

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


def _lock_file(uri: str, root: Path) -> Path:
    """The lock beside the sqlite database (or in the project for other back ends)."""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):] + ".lock")
    return root / ".mlflow.lock"


@contextlib.contextmanager
def _locked(uri: str, root: Path, timeout: float = 600.0) -> Iterator[None]:
    from filelock import FileLock

    lock = _lock_file(uri, root)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock), timeout=timeout):
        yield


def retry(fn: Callable[..., T], *args: Any, attempts: int = 12, **kwargs: Any) -> T:
    """Call ``fn``; when sqlite says "database is locked", wait (growing, jittered) and call again."""
    for k in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - MLflow wraps sqlite's OperationalError
            if "database is locked" not in str(err) or k == attempts - 1:
                raise
            time.sleep(min(5.0, 0.1 * 2 ** k) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def client(root: str | Path | None = None) -> Any:
    """An MlflowClient on the project's tracking store, the store created (once) under the lock."""
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
    from mlflow.tracking import MlflowClient

    root = Path(root or Path.cwd())
    uri = tracking_uri(root)
    with _locked(uri, root):
        if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).exists():
            _create_database(Path(uri[len("sqlite:///"):]))
        c = MlflowClient(tracking_uri=uri)
        retry(c.search_experiments, max_results=1)
    return c


def _create_database(db: Path) -> None:
    """Make a new tracking database under a temporary name, then rename it into place.

    MLflow builds its tables in a few dozen migration steps; a kill in between would
    leave a half-built database that fails for good ("duplicate column name").
    """
    from mlflow.tracking import MlflowClient

    with atomic_path(db) as tmp:
        MlflowClient(tracking_uri=f"sqlite:///{tmp}").search_experiments(max_results=1)


def experiment_id(c: Any, name: str, root: str | Path | None = None) -> str:
    """The id of experiment ``name``, created under the lock when it does not exist yet."""
    exp = retry(c.get_experiment_by_name, name)
    if exp is not None:
        return exp.experiment_id
    root = Path(root or Path.cwd())
    with _locked(tracking_uri(root), root):
        exp = retry(c.get_experiment_by_name, name)
        if exp is not None:
            return exp.experiment_id
        artifacts = (root / "mlruns").resolve()
        artifacts.mkdir(parents=True, exist_ok=True)
        return retry(c.create_experiment, name, artifact_location=artifacts.as_uri())


def log_run(experiment: str, run_name: str, params: Mapping[str, Any] | None = None,
            metrics: Mapping[str, float] | None = None, artifacts: Iterable[str | Path] = (),
            tags: Mapping[str, str] | None = None, root: str | Path | None = None) -> str:
    """Log one finished run (flattened params, metrics, artifact files); returns its run id."""
    from mlflow.entities import Metric, Param, RunTag

    c = client(root)
    exp_id = experiment_id(c, experiment, root)
    run = retry(c.create_run, exp_id, run_name=run_name, tags=dict(tags or {}))
    run_id = run.info.run_id
    flat = [Param(k, str(v)[:MAX_PARAM_LEN]) for k, v in flatten(params or {}).items()]
    for i in range(0, len(flat), 100):
        retry(c.log_batch, run_id, params=flat[i:i + 100])
    now = int(time.time() * 1000)
    if metrics:
        values = {metric_key(k): float(v) for k, v in metrics.items()}
        retry(c.log_batch, run_id, metrics=[Metric(k, v, now, 0) for k, v in values.items()])
    if tags:
        retry(c.log_batch, run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
    log_artifacts(run_id, artifacts, root=root, c=c)
    retry(c.set_terminated, run_id)
    return run_id


def log_history(run_id: str, rows: Iterable[tuple[str, float, int]], root: str | Path | None = None) -> None:
    """Metric histories: (key, value, step) rows, in batches."""
    from mlflow.entities import Metric

    c = client(root)
    now = int(time.time() * 1000)
    values = {(metric_key(k), int(step)): float(v) for k, v, step in rows}
    metrics = [Metric(k, v, now, step) for (k, step), v in values.items()]
    for i in range(0, len(metrics), 500):
        retry(c.log_batch, run_id, metrics=metrics[i:i + 500])


def log_artifacts(run_id: str, files: Iterable[str | Path], subdir: str | None = None,
                  root: str | Path | None = None, c: Any = None) -> None:
    """Attach existing files to a run (missing ones are skipped)."""
    c = c or client(root)
    for f in files:
        if Path(f).is_file():
            retry(c.log_artifact, run_id, str(f), subdir)
