#!/usr/bin/env python3
"""`dvc` with the fix of treeverse/dvc#9818 applied, for dry runs on a fresh clone:

    python workflow/dvc/repro.py repro --dry        # what `dvc repro` would run, nothing more

Why: DVC <= 3.67.1 looks a stage up in its run cache before a dry run prints it, and for that
hashes every dependency; a dependency no stage has made yet (``data/raw/videos.parquet`` on a
fresh clone) raises FileNotFoundError, so plain ``dvc repro --dry`` stops at the second stage.
Newer DVC source (treeverse/dvc commit 62ab2e0) skips the run cache for a stage with a missing
dependency (a ``dep.exists`` guard in ``dvc/stage/cache.py::_can_hash``); no release has it yet.
This file adds the same guard, then runs DVC's own command line with the given arguments. When a DVC release
carries the fix, plain ``dvc repro --dry`` does the same (tests/test_workflow_dvc.py notices).
``dvc repro --dry --force`` also works, but lists every stage, stale or not.
"""
from __future__ import annotations

import sys
from typing import Any

import dvc.stage.cache as stage_cache
from dvc.cli import main

_can_hash = stage_cache._can_hash


def can_hash(stage: Any) -> bool:
    """No run-cache lookup for a stage whose local dependency is missing (it has to run anyway)."""
    if any(dep.protocol == "local" and dep.def_path and not dep.exists for dep in stage.deps):
        return False
    return _can_hash(stage)


stage_cache._can_hash = can_hash

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
