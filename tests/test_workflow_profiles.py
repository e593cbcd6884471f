"""Execution profiles: every rule declares what a cluster scheduler needs, every profile key is a
Snakemake option, and the SLURM profile names real rules and dry-runs (with its executor when
snakemake-executor-plugin-slurm is installed; without it, the rest of the profile: the plugin
would replace the pinned numpy, docs/gpu.md §4)."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

RULE_RE = re.compile(r"^(?:rule|checkpoint)\s+(\w+)\s*:", re.M)
GPU_RULES = {"train", "select", "latents", "baseline", "evaluate"}  # the StyleGAN2 path runs them on a GPU


def rule_bodies(project: Path) -> dict[str, str]:
    bodies = {}
    for smk in sorted((project / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text(encoding="utf-8")
        heads = list(RULE_RE.finditer(text))
        for i, m in enumerate(heads):
            body = text[m.end(): heads[i + 1].start() if i + 1 < len(heads) else len(text)]
            bodies[m.group(1)] = re.split(r"^\S", body, maxsplit=1, flags=re.M)[0]
    return bodies


def test_every_rule_declares_threads_and_resources(project_root):
    bodies = rule_bodies(project_root)
    assert len(bodies) >= 15
    missing = [f"{name}: {what}" for name, body in bodies.items()
               for what in ("threads:", "resources:", "mem_mb=", "runtime=") if what not in body]
    assert not missing, missing
    assert {n for n, b in bodies.items() if re.search(r"^\s+gpu=", b, re.M)} == GPU_RULES


def test_the_dry_run_shows_gpu_only_for_stylegan2_jobs(project_root):
    if shutil.which("snakemake") is None:
        pytest.skip("snakemake not installed")
    res = subprocess.run(["snakemake", "-n", "--config", "profile=smoke"], cwd=project_root, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = []  # (rule, method, resources) of every job block with a method wildcard
    for block in re.split(r"^(?=rule \w+:$)", res.stdout, flags=re.M):
        rule, method, resources = (re.search(p, block, re.M) for p in
                                   (r"^rule (\w+):$", r"^\s+wildcards: method=(\S+)$", r"^\s+resources: (.*)$"))
        if rule and method and resources:
            jobs.append((rule[1], method[1], resources[1]))
    assert {r for r, _, _ in jobs} >= {"train", "select", "evaluate", "curves"}
    for rule, method, resources in jobs:
        gpu = rule in GPU_RULES and method.startswith("sg2-")
        assert ("gpu=1" in resources) == gpu, (rule, method, resources)
        assert "mem_mb=" in resources and "runtime=" in resources


def test_slurm_profile_names_existing_rules(project_root):
    cfg = yaml.safe_load((project_root / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())
    assert cfg["executor"] == "slurm" and cfg["rerun-incomplete"] is True
    assert set(cfg["set-resources"]) <= set(rule_bodies(project_root))
    assert set(cfg["set-resources"]) == GPU_RULES


def test_slurm_profile_dry_run(project_root):
    if shutil.which("snakemake") is None or importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip("snakemake-executor-plugin-slurm not installed")
    env = {**os.environ, "PATH": os.environ.get("PATH", "")}
    res = subprocess.run(["snakemake", "-n", "--profile", "workflow/profiles/slurm", "--config", "profile=smoke"],
                         cwd=project_root, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Job stats" in res.stdout + res.stderr


def _options() -> set[str]:
    """Snakemake's long option names (with the installed executor plugins' ones), as profile keys."""
    from snakemake.cli import get_argument_parser

    return {o[2:] for a in get_argument_parser()._actions for o in a.option_strings if o.startswith("--")}


@pytest.mark.parametrize("profile", ["default", "slurm", "local-cluster"])
def test_profile_keys_are_snakemake_options(project_root, profile):
    cfg = yaml.safe_load((project_root / "workflow" / "profiles" / profile / "config.yaml").read_text())
    options = _options()
    executor = cfg.get("executor")
    plugin = f"snakemake_executor_plugin_{str(executor).replace('-', '_')}"
    unknown = [k for k in cfg if k not in options
               and not (k.startswith(f"{executor}-") and importlib.util.find_spec(plugin) is None)]
    assert not unknown, f"{profile}: not snakemake options: {unknown}"
    assert "jobs" in options and "set-resources" in options and "executor" in options  # the check itself works


def test_slurm_profile_without_its_executor_dry_runs_with_partitions(project_root, tmp_path):
    """Everything of the SLURM profile but `executor: slurm` (which needs the plugin) in a real dry run:
    its options parse, and every job carries the partition the plugin would submit it to."""
    if shutil.which("snakemake") is None:
        pytest.skip("snakemake not installed")
    cfg = yaml.safe_load((project_root / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())
    assert cfg.pop("executor") == "slurm"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    res = subprocess.run(["snakemake", "-n", "--profile", str(tmp_path), "--config", "profile=smoke"],
                         cwd=project_root, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = re.findall(r"^(?:rule|checkpoint) (\w+):\n(?:.*\n)*?\s+resources: (.*)$", res.stdout, re.M)
    assert {r for r, _ in jobs} >= {"ingest", "train", "evaluate", "report"}
    for rule, resources in jobs:
        partition = "gpu" if rule in GPU_RULES else "cpu"
        assert f"slurm_partition={partition}" in resources, (rule, resources)
