"""The data stages through Snakemake's cluster-generic executor: every job its own detached process
(workflow/profiles/local-cluster submits, polls and cancels them), sharing the project folder as on a
cluster; the results must be the files a local run makes."""
from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml
from reliability_helpers import snapshot
from workflow_helpers import workflow_checkout

TARGET = "data/manifests/frames.parquet"
STATE = Path(".snakemake/local-cluster")


def _params(project_root: Path, sample_root: Path) -> dict:
    """The sample profile on 4 identities, one clip each, 2 identities a shard (2 shards), 3 frames a clip."""
    raw = yaml.safe_load((project_root / "params.yaml").read_text(encoding="utf-8"))
    raw["dataset"].update(mirror=str(sample_root), identities=4)
    raw["ingest"].update(max_videos_per_identity=1, identities_per_shard=2)
    raw["frames"]["max_per_video"] = 3
    return raw


def _snakemake(root: Path, *args: str) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
    res = subprocess.run(["snakemake", TARGET, *args], cwd=root, env=env, capture_output=True, text=True, timeout=900,
                         check=False)
    jobs = "".join(f"\n--- {log.name}\n{log.read_text(errors='replace')[-1500:]}"
                   for log in sorted((root / STATE).glob("*.log")))  # the cluster jobs' own output
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:] + jobs


def _results(root: Path) -> dict[str, str]:
    """sha256 of the data files (tables, frames, crops), not logs nor the per-frame resume records
    (those hold the source files' mtimes by design)."""
    return {k: v for k, v in snapshot(root / "data").items() if not k.startswith("logs/") and not k.endswith(".json")}


@pytest.mark.slow
def test_data_stages_as_separate_cluster_jobs_make_the_files_of_a_local_run(tmp_path, project_root, sample_root):
    if shutil.which("snakemake") is None or importlib.util.find_spec("snakemake_executor_plugin_cluster_generic") is None:
        pytest.skip("snakemake-executor-plugin-cluster-generic not installed (pyproject's dev extra)")
    params = _params(project_root, sample_root)
    local = workflow_checkout(tmp_path / "local", project_root, params)
    cluster = workflow_checkout(tmp_path / "cluster", project_root, params)
    _snakemake(local, "--cores", "2")
    _snakemake(cluster, "--profile", "workflow/profiles/local-cluster")

    jobs = [line.split("\t") for line in (cluster / STATE / "jobs.tsv").read_text().splitlines()]
    assert Counter(rule for _, rule, *_ in jobs) == {"ingest": 1, "frames": 2, "align": 2, "filter": 2, "manifest": 1}
    pids = [pid for pid, *_ in jobs]
    assert len(set(pids)) == len(pids)  # one process per job
    ends = {pid: (cluster / STATE / f"{pid}.exit").read_text().split() for pid in pids}
    assert all(rc == "0" for rc, _, _ in ends.values()), ends
    spans = [(float(a), float(b)) for _, a, b in ends.values()]
    assert any(a0 < b1 and a1 < b0 for (a0, b0), (a1, b1) in itertools.combinations(spans, 2)), spans  # 2 at once

    want, got = _results(local), _results(cluster)
    assert {"manifests/frames.parquet", "manifests/rejects.parquet", "raw/videos.parquet"} <= set(want)
    assert any(k.startswith("aligned/") and k.endswith(".png") for k in want)
    assert got == want, sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
