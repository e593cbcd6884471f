"""Helpers of the Snakemake tests: a scratch copy of the workflow files with chosen params."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml


def workflow_checkout(root: Path, project_root: Path, params: dict) -> Path:
    """Snakefile, workflow/ (rules, schemas, profiles) and ``params`` as params.yaml in ``root``: a
    checkout whose runs never touch the project's own data, reports or MLflow store."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(project_root / "Snakefile", root / "Snakefile")
    shutil.copytree(project_root / "workflow", root / "workflow", symlinks=True)
    os.symlink("workflow/profiles", root / "profiles")
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return root
