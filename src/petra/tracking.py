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

Every run is tagged with the git commit and dirty flag of the project (``petra.git_commit``,
``petra.git_dirty``, also ``mlflow.source.git.commit``). A Snakemake invocation sets
``PETRA_PIPELINE_ID`` (Snakefile ``onstart``): each stage's run is then nested (``mlflow.parentRunId``)
under one ``pipeline`` run per experiment and invocation, created by the first stage that logs.
A trained method's selected checkpoint is registered in the model registry under the method's name
(:func:`register_checkpoint`), with its selection and evaluation metrics as version tags;
:func:`fetch_registered` brings a version back (``petra transfer --method models:/NAME/VERSION``).
"""
from __future__ import annotations

import contextlib
import functools
import os
import random
import re
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, TypeVar

from .errors import PetraError
from .io import atomic_path, sha256_file, sidecar, verified

T = TypeVar("T")

MAX_PARAM_LEN = 6000  # mlflow's limit on a param value
SHA256_TAG = "petra.sha256"  # a registered checkpoint's digest, checked when it is fetched back
MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[^/]+)|@(?P<alias>[^/]+))$")


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


PIPELINE_ENV = "PETRA_PIPELINE_ID"  # set once per Snakemake invocation (Snakefile onstart)


@functools.lru_cache(maxsize=4)
def git_state(root: str = ".") -> dict[str, str]:
    """The commit and dirty flag of the checkout at ``root``, else of the one petra's code runs from (an
    editable install in a scratch workflow copy), else "unknown"."""
    def git(where: Path, *args: str) -> str | None:
        try:
            res = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    where = next((w for w in (Path(root), Path(__file__).resolve().parent) if git(w, "rev-parse", "HEAD")), None)
    commit = git(where, "rev-parse", "HEAD") if where else None
    if commit is None:
        return {"petra.git_commit": "unknown", "petra.git_dirty": "unknown"}
    dirty = git(where, "status", "--porcelain", "--untracked-files=no")
    return {"petra.git_commit": commit, "petra.git_dirty": "unknown" if dirty is None else str(bool(dirty)).lower(),
            "mlflow.source.git.commit": commit}


def run_tags(profile: str, stage: str, method: str | None = None, root: str | Path | None = None) -> dict[str, str]:
    """The tags every petra run carries: git commit + dirty flag, profile, stage, method."""
    tags = {**git_state(str(Path(root or Path.cwd()).resolve())), "petra.profile": str(profile),
            "petra.stage": stage}
    if method:
        tags["petra.method"] = method
    if os.environ.get(PIPELINE_ENV):
        tags["petra.pipeline_id"] = os.environ[PIPELINE_ENV]
    return tags


def pipeline_run(c: Any, exp_id: str, root: str | Path | None = None) -> str | None:
    """The parent run of this Snakemake invocation in experiment ``exp_id`` (created once, under the lock)."""
    pid = os.environ.get(PIPELINE_ENV)
    if not pid:
        return None
    query = f"tags.`petra.pipeline_id` = '{pid}' and tags.`petra.stage` = 'pipeline'"

    def find() -> str | None:
        runs = retry(c.search_runs, [exp_id], filter_string=query, max_results=1)
        return runs[0].info.run_id if runs else None

    found = find()
    if found:
        return found
    root = Path(root or Path.cwd())
    with _locked(tracking_uri(root), root):
        found = find()
        if found:
            return found
        tags = {**git_state(str(root.resolve())), "petra.pipeline_id": pid, "petra.stage": "pipeline"}
        return retry(c.create_run, exp_id, run_name=f"pipeline {pid}", tags=tags).info.run_id


def finish_pipeline(status: str = "FINISHED", root: str | Path | None = None) -> int:
    """Mark this invocation's parent runs finished (Snakefile onsuccess/onerror); returns how many."""
    pid = os.environ.get(PIPELINE_ENV)
    uri = tracking_uri(root)
    if not pid or (uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).exists()):
        return 0
    c = client(root)
    exps = [e.experiment_id for e in retry(c.search_experiments)]
    query = f"tags.`petra.pipeline_id` = '{pid}' and tags.`petra.stage` = 'pipeline'"
    runs = retry(c.search_runs, exps, filter_string=query) if exps else []
    for r in runs:
        retry(c.set_terminated, r.info.run_id, status)
    return len(runs)


def log_run(experiment: str, run_name: str, params: Mapping[str, Any] | None = None,
            metrics: Mapping[str, float] | None = None, artifacts: Iterable[str | Path] = (),
            tags: Mapping[str, str] | None = None, root: str | Path | None = None,
            parent: str | None = None) -> str:
    """Log one finished run (flattened params, metrics, artifact files), nested under ``parent`` or
    this invocation's pipeline run; returns its run id."""
    from mlflow.entities import Metric, Param, RunTag

    c = client(root)
    exp_id = experiment_id(c, experiment, root)
    tags = {**git_state(str(Path(root or Path.cwd()).resolve())), **dict(tags or {})}
    parent = parent or pipeline_run(c, exp_id, root)
    if parent:
        tags["mlflow.parentRunId"] = parent
    run = retry(c.create_run, exp_id, run_name=run_name, tags=tags)
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


def register_checkpoint(name: str, run_id: str, checkpoint: str | Path, metrics: Mapping[str, Any],
                        description: str = "", root: str | Path | None = None) -> int:
    """Log ``checkpoint`` (and its sha256 sidecar) to ``run_id`` under ``selected/`` and register it as a
    new version of model ``name``, the metrics as version tags; returns the version number."""
    c = client(root)
    log_artifacts(run_id, [checkpoint, sidecar(checkpoint)], "selected", root=root, c=c)
    root = Path(root or Path.cwd())
    with _locked(tracking_uri(root), root):  # get-or-create, like experiments
        try:
            retry(c.get_registered_model, name)
        except Exception as err:  # noqa: BLE001 - RESOURCE_DOES_NOT_EXIST
            if "RESOURCE_DOES_NOT_EXIST" not in str(err) and "not found" not in str(err).lower():
                raise
            retry(c.create_registered_model, name, description=f"petra method {name}: selected checkpoints")
    source = f"{retry(c.get_run, run_id).info.artifact_uri}/selected/{Path(checkpoint).name}"
    tags = {f"metric.{metric_key(k)}": str(v) for k, v in metrics.items() if v is not None}
    tags[SHA256_TAG] = sha256_file(checkpoint)
    mv = retry(c.create_model_version, name, source, run_id=run_id, tags=tags, description=description)
    return int(mv.version)


def tag_latest_version(name: str, metrics: Mapping[str, Any], root: str | Path | None = None) -> int | None:
    """Add ``metrics`` (e.g. evaluation results) as tags of model ``name``'s newest version, if registered."""
    c = client(root)
    try:
        versions = retry(c.search_model_versions, f"name = '{name}'")
    except Exception:  # noqa: BLE001 - no registry entry: nothing to tag
        return None
    if not versions:
        return None
    latest = max(versions, key=lambda v: int(v.version))
    for k, v in metrics.items():
        retry(c.set_model_version_tag, name, latest.version, f"eval.{metric_key(k)}", str(v))
    return int(latest.version)


def is_model_uri(text: str | None) -> bool:
    """True for ``models:/NAME/VERSION``, ``models:/NAME/latest`` and ``models:/NAME@ALIAS``."""
    return bool(text) and str(text).startswith("models:/")


class Registered(NamedTuple):
    """A model-registry version fetched to disk: the method name, its version, the local checkpoint."""

    name: str
    version: int
    path: Path


def fetch_registered(uri: str, dest: str | Path, root: str | Path | None = None) -> Registered:
    """Registry ``uri`` as a local checkpoint: the version's ``selected/`` checkpoint and
    its sha256 sidecar are downloaded into ``dest`` and checked against the digest the version was
    registered with. Why not MLflow's ``models:/`` download: a petra version's source is one file,
    and its sidecar must travel with it (loaders refuse unverified checkpoints)."""
    match = MODEL_URI.match(uri)
    if not match:
        raise PetraError(f"{uri}: not a registry URI (models:/NAME/VERSION, models:/NAME/latest or models:/NAME@ALIAS)")
    store = tracking_uri(root)
    if store.startswith("sqlite:///") and not Path(store[len("sqlite:///"):]).is_file():
        raise PetraError(f"{uri}: no MLflow tracking store at {store[len('sqlite:///'):]} "
                         "(run from the project folder or set MLFLOW_TRACKING_URI)")
    c = client(root)
    name, version, alias = match["name"], match["version"], match["alias"]
    try:
        if alias:
            mv = retry(c.get_model_version_by_alias, name, alias)
        elif version.lower() == "latest":
            versions = retry(c.search_model_versions, f"name = '{name}'")
            if not versions:
                raise PetraError(f"{uri}: model {name!r} has no registered version in {store}")
            mv = max(versions, key=lambda v: int(v.version))
        else:
            mv = retry(c.get_model_version, name, version)
    except PetraError:
        raise
    except Exception as err:  # noqa: BLE001 - MLflow's RESOURCE_DOES_NOT_EXIST / INVALID_PARAMETER_VALUE
        raise PetraError(f"{uri}: not in the model registry at {store} ({str(err).splitlines()[0]})") from None
    file = mv.source.rstrip("/").rsplit("/", 1)[-1]
    if not mv.run_id or not file:
        raise PetraError(f"{uri}: version {mv.version} has no run artifact to load (source {mv.source})")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    got = []
    for rel in (f"selected/{file}", f"selected/{sidecar(file).name}"):
        try:
            got.append(Path(retry(c.download_artifacts, mv.run_id, rel, str(dest))))
        except Exception as err:  # noqa: BLE001 - missing artifact, unreachable store
            raise PetraError(f"{uri}: cannot download {rel} of run {mv.run_id} ({str(err).splitlines()[0]})") from None
    path = got[0]
    expected = (mv.tags or {}).get(SHA256_TAG)
    if not verified(path) or (expected and sha256_file(path) != expected):
        raise PetraError(f"{uri}: the downloaded {file} does not match its registered sha256; corrupt or replaced")
    return Registered(name, int(mv.version), path)


class LiveRun:
    """An MLflow run open while a stage works (training): metrics per tick and artifacts as they
    appear, so the run can be watched in the MLflow UI; :meth:`finish` closes it.

    Bookkeeping must not kill a training: a failed call prints one warning and the run goes on
    (the jsonl logs in the run folder stay complete).
    """

    def __init__(self, experiment: str, run_name: str, params: Mapping[str, Any] | None = None,
                 tags: Mapping[str, str] | None = None, root: str | Path | None = None,
                 run_id: str | None = None) -> None:
        from mlflow.entities import Param, RunTag

        self.root = root
        self.c = client(root)
        self._warned = False
        if run_id is not None:  # a resumed training continues its run
            retry(self.c.update_run, run_id, status="RUNNING")
            self.run_id = run_id
            return
        exp_id = experiment_id(self.c, experiment, root)
        tags = {**git_state(str(Path(root or Path.cwd()).resolve())), **dict(tags or {})}
        parent = pipeline_run(self.c, exp_id, root)
        if parent:
            tags["mlflow.parentRunId"] = parent
        self.run_id = retry(self.c.create_run, exp_id, run_name=run_name, tags=tags).info.run_id
        flat = [Param(k, str(v)[:MAX_PARAM_LEN]) for k, v in flatten(params or {}).items()]
        for i in range(0, len(flat), 100):
            retry(self.c.log_batch, self.run_id, params=flat[i:i + 100])
        retry(self.c.log_batch, self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def _safe(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            retry(fn, *args, attempts=3, **kwargs)
        except Exception as err:  # noqa: BLE001 - see the class docstring
            if not self._warned:
                print(f"MLflow: live logging failed ({err}); training goes on", flush=True)
                self._warned = True

    def log_metrics(self, values: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._safe(self.c.log_batch, self.run_id,
                   metrics=[Metric(metric_key(k), float(v), now, int(step)) for k, v in values.items()])

    def log_artifact(self, path: str | Path, subdir: str | None = None) -> None:
        if Path(path).is_file():
            self._safe(self.c.log_artifact, self.run_id, str(path), subdir)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        self._safe(self.c.log_batch, self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def finish(self, status: str = "FINISHED") -> str:
        self._safe(self.c.set_terminated, self.run_id, status)
        return self.run_id
