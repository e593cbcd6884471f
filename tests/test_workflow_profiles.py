"""Execution profiles: every rule declares what a cluster scheduler needs, and the SLURM profile
names real rules (its dry run needs snakemake-executor-plugin-slurm, skipped when absent)."""
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
    jobs = re.findall(r"^rule (\w+):\n(?:.*\n)*?\s+wildcards: method=(\S+)\n\s+resources: (.*)$", res.stdout, re.M)
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
