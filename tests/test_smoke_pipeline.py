"""The whole DAG on the smoke profile: data -> latents -> train -> select -> baseline -> evaluate -> report.

Runs ``snakemake --cores 2 --config profile=smoke`` in a scratch copy of the workflow
(the repository's own .test/ is left alone), with tiny deterministic random-weight
StyleGAN2/ReStyle/ArcFace/OpenGraphAU checkpoints built by the `smoke_weights` rule and loaded
through the real loaders. This is the one end-to-end test of the wiring; the
numbers it produces are meaningless (random generator), the files are not.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

METHODS = ["sg2-ours", "sg2-ours-cos", "sg2-ours-gen", "sg2-ours-text", "sg2-baseline-psp", "sg2-baseline-e4e"]


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_smoke_profile_runs_the_stylegan2_path_end_to_end(project_root, shared_dir, tmp_path):
    if shutil.which("snakemake") is None:
        pytest.skip("snakemake not installed")
    work = tmp_path / "main"
    work.mkdir()
    (tmp_path / "shared").symlink_to(shared_dir)  # params: dataset.mirror = ../shared/data/sample
    for name in ("Snakefile", "workflow", "params.yaml"):
        (work / name).symlink_to(project_root / name)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "OMP_NUM_THREADS": "1"}
    try:
        _run_and_check(work, env)
    finally:  # the random-weight checkpoints and training snapshots are ~5 GB
        shutil.rmtree(work / ".test" / "smoke" / "models", ignore_errors=True)


def _run_and_check(work: Path, env: dict) -> None:
    t0 = time.time()
    res = subprocess.run(["snakemake", "--cores", "2", "--config", "profile=smoke"], check=False, cwd=work, env=env,
                         capture_output=True, text=True, timeout=1400)
    wall = time.time() - t0
    logs = "\n".join(f"== {p}\n{p.read_text()[-1500:]}" for p in sorted((work / ".test").rglob("*.log"))) if res.returncode else ""
    assert res.returncode == 0, res.stderr[-4000:] + logs
    smoke = work / ".test" / "smoke"
    print(f"smoke DAG wall time: {wall:.0f} s")

    # latents: every manifest frame has a pSp and an e4e code
    frames = pd.read_parquet(smoke / "data" / "manifests" / "frames.parquet")
    for enc in ("psp", "e4e"):
        idx = pd.read_parquet(smoke / "data" / "latents" / enc / "index.parquet")
        assert set(idx["aligned_path"]) == set(frames["aligned_path"])
    # train: each variant logged losses and left checkpoints; select chose one of them
    for v in ("ours", "ours-cos", "ours-gen", "ours-text"):
        summ = json.loads((smoke / "models" / "train" / f"sg2-{v}" / "summary.json").read_text())
        assert summ["steps"] == 2 and summ["checkpoints"]
        best = json.loads((smoke / "models" / "selected" / f"sg2-{v}.json").read_text())
        assert Path(work / best["checkpoint"]).is_file() and best["step"] in (1, 2)
        # released variants keep their best validation checkpoint; the text variant ranks snapshots
        assert (Path(best["checkpoint"]).name == "best.pt") == (v != "ours-text"), (v, best)
    cos = [json.loads(line) for line in (smoke / "models" / "train" / "sg2-ours-cos" / "metrics.jsonl").read_text().splitlines()]
    assert "cos" in cos[-1]  # the ours-cos variant really trains with the CosFace term
    # evaluate + report: one results row per enabled sg2 method
    table = pd.read_csv(smoke / "reports" / "results.csv")
    col = "method" if "method" in table.columns else table.columns[0]
    assert set(METHODS) <= set(table[col])
    assert "sg2-thesis-released" not in set(table[col])  # its best_model.pt is absent: left out, not failed
    # FAU-CORR through the real OpenGraphAU loader (random-weight ResNet-18 checkpoint in the
    # official format): copy-driving reproduces the driving AU series exactly, so r = 1
    fau = table.set_index(col)["fau_corr_opengraphau"]
    assert fau["copy-driving"] == pytest.approx(1.0, abs=1e-6)
    assert fau[METHODS].notna().any() and "geom_au_corr_dlib" not in table.columns
    # MLflow: one training run per variant
    import mlflow

    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    runs = mlflow.search_runs(experiment_names=["petra-train-smoke"])
    assert {"sg2-ours", "sg2-ours-cos", "sg2-ours-gen"} <= set(runs["tags.mlflow.runName"])
    _check_mlflow_comparison(table.set_index(col))
    _check_report(work, env, smoke)


def _check_mlflow_comparison(table: pd.DataFrame) -> None:
    """One pipeline run per experiment for this invocation; every training run nested under it with only
    its method's params; the selected checkpoints registered; two methods compared through the API."""
    import mlflow

    c = mlflow.MlflowClient()
    train = mlflow.search_runs(experiment_names=["petra-train-smoke"])
    pipeline = train[train["tags.petra.stage"] == "pipeline"]
    assert len(pipeline) == 1 and pipeline["status"].iloc[0] == "FINISHED"  # closed by onsuccess
    trained = train[train["tags.petra.stage"] == "train"]
    assert set(trained["tags.mlflow.parentRunId"]) == set(pipeline["run_id"])
    assert trained["tags.petra.git_commit"].str.fullmatch(r"[0-9a-f]{40}|unknown").all()
    assert set(trained["tags.petra.profile"]) == {"smoke"}
    params = {col.split(".")[1] for col in trained.columns if col.startswith("params.") and trained[col].notna().any()}
    assert "mesh" not in params and "train_mesh" not in params and "evaluate" not in params, params
    for method in ("sg2-ours", "sg2-ours-cos", "sg2-ours-gen", "sg2-ours-text"):
        versions = c.search_model_versions(f"name = '{method}'")
        assert versions, method
        v = max(versions, key=lambda v: int(v.version))
        assert v.tags.get("metric.step") in ("1", "2") and v.run_id in set(trained["run_id"])
        assert any(k.startswith("eval.") for k in v.tags), v.tags  # the report's metrics on the version
    evals = mlflow.search_runs(experiment_names=["petra-smoke-results"],
                               filter_string="tags.`petra.stage` = 'evaluate'").set_index("tags.petra.method")
    both = [c for c in table.columns if c != "method" and table.loc[["sg2-ours", "sg2-baseline-psp"], c].notna().all()]
    assert len(both) >= 4, both
    for m in ("sg2-ours", "sg2-baseline-psp"):  # the two methods side by side, as the table has them
        assert evals.loc[m, [f"metrics.{c}" for c in both]].astype(float).tolist() == \
            pytest.approx(table.loc[m, both].astype(float).tolist())


def _check_report(work: Path, env: dict, smoke: Path) -> None:
    """`snakemake --report` builds a page listing the report categories and the marked files."""
    import re

    out = work / "reports" / "report.html"
    out.parent.mkdir(exist_ok=True)  # snakemake does not create the report's folder
    res = subprocess.run(["snakemake", "--report", str(out), "--config", "profile=smoke"], check=False, cwd=work,
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    html = out.read_text(encoding="utf-8", errors="replace")
    assert out.stat().st_size > 100_000 and "var results = {}" not in html
    for category in ("Results", "Metrics", "Figures", "Training curves"):
        assert re.search(re.escape(category), html), category
    for name in ("results.csv", "summary.json", "cross_reenactment.png", "train_curves_sg2-ours.png"):
        assert name in html, name
    assert (smoke / "reports" / "curves" / "sg2-ours.train.csv").is_file()
