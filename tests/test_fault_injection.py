"""Fault injection: kill -9 every data stage, the mesh fits and a tiny training at seeded random
points, rerun, and get byte-for-byte what an uninterrupted run gives; Snakemake's lock refuses
a second run on the same checkout; a data folder with a space in its name works in the rules.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from reliability_helpers import mini_mirror, snapshot, temporaries
from workflow_helpers import workflow_checkout

import petra.config

STAGES = [["ingest"], ["frames"], ["align"], ["filter"], ["manifest"], ["latents", "--backend", "mesh"],
          ["train", "--method", "mesh-ours", "--no-mlflow"]]
SEED = 14
KILLS_PER_STAGE = 2


def project_params(project_root: Path, mirror: Path) -> dict:
    """The smoke profile on the mini mirror, with a tiny mesh training (no LPIPS: no weight files)."""
    cfg = petra.config.load(project_root / "params.yaml", "smoke")
    cfg = {k: v for k, v in cfg.items() if k != "profile"}
    cfg["paths"] = {"data": "data", "reports": "reports", "models": "models"}
    cfg["dataset"] = {**cfg["dataset"], "mirror": str(mirror), "identities": None}
    cfg["ingest"] = {"max_videos_per_identity": 4, "identities_per_shard": 2}
    cfg["frames"] = {**cfg["frames"], "max_per_video": 3}
    cfg["filter"] = {**cfg["filter"], "backend": "mesh"}
    cfg["generator"] = {"name": "mesh"}
    cfg["train_mesh"]["train"] = {"steps": 8, "batch_size": 2, "lr": 5e-4, "optimizer": "adam", "resolution": 64,
                                  "tick_steps": 1, "val_steps": 4, "val_batches": 1, "checkpoint_steps": 2, "device": "cpu"}
    cfg["train_mesh"]["weights"] = {**cfg["train_mesh"]["weights"], "lpips": 0.0, "lpips_crop": 0.0}
    return {**cfg, "profile": "sample"}


def run(project: Path, stage: list[str]) -> subprocess.Popen:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}", "OMP_NUM_THREADS": "1",
           "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(["petra", *stage, "--params", "params.yaml"], cwd=project, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> float:
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    return time.monotonic() - t0


def outcome(project: Path) -> dict[str, str]:
    """sha256 of everything the stages made that must not depend on the interruptions.

    Left out: resume records (they hold the mtimes of their sources), logs, and timing
    (``sec_per_step``, ``seconds``); latent shards and the training's checkpoints are compared
    tensor by tensor (their files also hold what they depend on, source mtimes included).
    """
    import torch

    data = project / "data"
    got = {k: v for k, v in snapshot(data).items()
           if (not k.endswith((".json", ".pt", ".sha256")) or k.startswith("manifests/")) and not k.startswith("logs/")}
    for shard in sorted(data.glob("latents/*/shard-*.pt")):
        obj = torch.load(shard, weights_only=True)
        got[str(shard.relative_to(data))] = _tensors_digest({"keys": obj["keys"]}, obj["arrays"])
    run = project / "models" / "train" / "mesh-ours"
    for name in ("metrics.jsonl", "val.jsonl"):
        rows = [json.loads(r) for r in (run / name).read_text().splitlines()]
        got[name] = json.dumps([{k: v for k, v in r.items() if k != "sec_per_step"} for r in rows])
    from petra.train.checkpoint import list_checkpoints, load_checkpoint

    for step, path in list_checkpoints(run):
        obj = load_checkpoint(path)
        got[f"ckpt {step}"] = _tensors_digest({"step": obj["step"]}, *obj["parts"].values())
    return got


def _tensors_digest(meta: dict, *state_dicts: dict) -> str:
    h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for k, sd in enumerate(state_dicts):
        for name, t in sorted(sd.items()):
            h.update(f"{k}.{name}".encode() + t.numpy().tobytes())
    return h.hexdigest()


def last_data_run_metrics(project: Path) -> dict[str, float]:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["petra-data"], filter_string="attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"])
    return {k: v for k, v in runs.iloc[0].items() if k.startswith("metrics.")}


@pytest.fixture(scope="module")
def two_projects(tmp_path_factory, project_root, sample_root):
    base = tmp_path_factory.mktemp("faults")
    mirror = mini_mirror(base / "mirror", sample_root, damaged=True, more=2)
    params = project_params(project_root, mirror)
    out = {}
    for name in ("plain", "killed"):
        (base / name).mkdir()
        (base / name / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        out[name] = base / name
    return mirror, out


def test_kill_9_anywhere_then_rerun_gives_the_uninterrupted_result(two_projects):
    mirror, projects = two_projects
    before = snapshot(mirror)
    durations = [finish(run(projects["plain"], s)) for s in STAGES]
    rng = np.random.default_rng(SEED)
    killed = projects["killed"]
    kills = []
    for stage, duration in zip(STAGES, durations):
        for _ in range(KILLS_PER_STAGE):
            at = float(rng.uniform(0.05, 1.0)) * duration
            proc = run(killed, stage)
            time.sleep(at)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate(timeout=60)
            kills.append((stage[0], round(at, 2), proc.returncode))
        finish(run(killed, stage))
    print("kills (stage, seconds after start, exit status):", kills)
    assert sum(rc == -signal.SIGKILL for _, _, rc in kills) >= len(STAGES), kills  # most kills hit a running stage
    a, b = outcome(projects["plain"]), outcome(killed)
    assert a.keys() == b.keys(), (sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys()), kills)
    assert [k for k in a if a[k] != b[k]] == [], kills
    print(f"{len(a)} files / checkpoints compared, all identical")
    assert any(k.startswith("ckpt") for k in a) and "manifests/frames.parquet" in a
    assert last_data_run_metrics(projects["plain"]) == last_data_run_metrics(killed)
    assert not temporaries(killed / "data") and not temporaries(killed / "models")
    assert snapshot(mirror) == before


def snakemake(cwd: Path, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}"}
    return subprocess.Popen(["snakemake", *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, **kw)


def test_second_snakemake_on_one_checkout_is_refused_and_a_spaced_data_path_works(two_projects, project_root,
                                                                                 tmp_path):
    if shutil.which("snakemake") is None:
        pytest.skip("snakemake not installed")
    mirror, _ = two_projects
    params = yaml.safe_load((two_projects[1]["plain"] / "params.yaml").read_text())
    params["paths"] = {"data": "my data", "reports": "my reports", "models": "my models"}
    root = workflow_checkout(tmp_path / "check out", project_root, params)
    target = "my data/manifests/frames.parquet"
    first = snakemake(root, "--cores", "1", target)
    locks = root / ".snakemake" / "locks"
    end = time.monotonic() + 120
    while time.monotonic() < end and not (locks.is_dir() and any(locks.iterdir())) and first.poll() is None:
        time.sleep(0.1)
    assert first.poll() is None, first.communicate()[0][-3000:]
    second = snakemake(root, "--cores", "1", target)
    out2, _ = second.communicate(timeout=300)
    assert second.returncode != 0 and "Directory cannot be locked" in out2, out2[-3000:]
    out1, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out1[-3000:]  # the first run was not disturbed
    assert (root / target).is_file()

    # every shell command of the rest of the DAG keeps its paths whole (quoted)
    dry = subprocess.run(["snakemake", "-n", "-p", "--cores", "1"], cwd=root, capture_output=True,
                         text=True, timeout=300)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    commands = [line.split("Shell command:", 1)[1].strip() for line in (dry.stdout + dry.stderr).splitlines()
                if "Shell command: petra " in line]
    assert len(commands) >= 8, dry.stdout[-3000:]
    checked = 0
    for cmd in commands:
        words = shlex.split(cmd)
        for flag in ("--manifest", "--out", "--pairs", "--model", "--figure", "--out-dir", "--outputs", "--evals"):
            if flag in words:
                values = words[words.index(flag) + 1:]
                values = values[:next((k for k, w in enumerate(values) if w.startswith("--") or w == ">"), None)]
                assert values and all(v.startswith(("my data/", "my models/", "my reports")) for v in values), cmd
                checked += 1
        assert words[words.index(">") + 1].startswith(("my data/", "my models/")), cmd  # the log
    assert checked >= 8
