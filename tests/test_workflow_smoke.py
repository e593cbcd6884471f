"""The smoke profile through Snakemake, ingest → manifest, then what a params edit reruns.

Runs in a copy of the workflow files (Snakefile, workflow/, profiles, params.yaml
with the mirror's absolute path) so it never touches the checkout's .test/ folder.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_helpers import workflow_checkout

MANIFEST = ".test/smoke/data/manifests/frames.parquet"


def snakemake(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}"}
    return subprocess.run(["snakemake", MANIFEST, *args, "--config", "profile=smoke"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def planned_jobs(res: subprocess.CompletedProcess) -> dict[str, int]:
    """rule -> count from a dry run's "Job stats" table ({} when nothing is to be done)."""
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout + res.stderr
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def set_param(project: Path, section: str, key: str, value) -> None:
    p = project / "params.yaml"
    raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    raw[section][key] = value
    p.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def smoke_project(tmp_path_factory, project_root, sample_root):
    if shutil.which("snakemake") is None:
        pytest.skip("snakemake not installed")
    raw = yaml.safe_load((project_root / "params.yaml").read_text(encoding="utf-8"))
    raw["dataset"]["mirror"] = str(sample_root)
    root = workflow_checkout(tmp_path_factory.mktemp("smk"), project_root, raw)
    t0 = time.monotonic()
    res = snakemake(root, "--cores", "2")
    wall = time.monotonic() - t0
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return root, wall, res


def test_smoke_profile_runs_ingest_to_manifest_quickly(smoke_project):
    root, wall, _res = smoke_project
    assert wall < 120, f"smoke data stages took {wall:.0f} s"
    m = pd.read_parquet(root / MANIFEST)
    assert m["identity"].nunique() == 6
    assert m.groupby("video").size().max() <= 3  # frames.max_per_video: 3
    assert set(m["split"]) <= {"train", "val", "test"}
    assert m.groupby("identity")["split"].nunique().max() == 1
    assert (root / ".test/smoke/data/manifests/rejects.parquet").is_file()
    logs = (root / ".test/smoke/data/logs")
    assert "petra manifest: identities=6" in (logs / "manifest.log").read_text()


def test_up_to_date_then_only_downstream_jobs_rerun(smoke_project):
    root, _, _ = smoke_project
    assert planned_jobs(snakemake(root, "-n")) == {}
    original = (root / "params.yaml").read_text(encoding="utf-8")
    try:
        set_param(root, "filter", "max_yaw", 40.0)
        assert planned_jobs(snakemake(root, "-n")) == {"filter": 3, "manifest": 1}
        set_param(root, "align", "min_face_px", 30)
        assert planned_jobs(snakemake(root, "-n")) == {"align": 3, "filter": 3, "manifest": 1}
        (root / "params.yaml").write_text(original, encoding="utf-8")
        set_param(root, "manifest", "split_seed", 3)
        assert planned_jobs(snakemake(root, "-n")) == {"manifest": 1}
    finally:
        (root / "params.yaml").write_text(original, encoding="utf-8")
    assert planned_jobs(snakemake(root, "-n")) == {}


def test_a_generators_training_params_rerun_only_its_own_jobs(smoke_project):
    """One train rule serves every generator, yet each job declares only what its method reads:
    editing a StyleGAN2 loss weight reruns no mesh job, editing a mesh weight reruns no sg2 job."""
    root, _, _ = smoke_project
    targets = [".test/smoke/models/train/mesh-ours/summary.json", ".test/smoke/models/train/sg2-ours/summary.json"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["snakemake", *targets, *args, "--config", "profile=smoke"], cwd=root, env=env,
                              capture_output=True, text=True, timeout=900)

    def outputs(res: subprocess.CompletedProcess) -> list[str]:
        return sorted(m.group(1) for m in re.finditer(r"^\s*output: (\S+)", res.stdout + res.stderr, re.M))

    res = run("--cores", "2")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert planned_jobs(run("-n")) == {}
    original = (root / "params.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(original)
    try:
        raw["train"]["weights"]["l2_crop"] = 1.5  # a StyleGAN2 loss weight
        (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        plan = run("-n")
        assert planned_jobs(plan) == {"train": 1} and outputs(plan) == [targets[1]]  # sg2-ours only
        raw = yaml.safe_load(original)
        raw["train_mesh"]["weights"]["landmark"] = 5.0  # a mesh loss weight
        (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        plan = run("-n")
        assert planned_jobs(plan) == {"train": 1} and outputs(plan) == [targets[0]]  # mesh-ours only
        raw = yaml.safe_load(original)
        raw["train"]["seed"] = 7  # a loop key both read
        (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        assert planned_jobs(run("-n")) == {"train": 2}
    finally:
        (root / "params.yaml").write_text(original, encoding="utf-8")
