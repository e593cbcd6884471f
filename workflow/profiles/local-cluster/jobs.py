"""Where the local-cluster scripts keep their records: ``.snakemake/local-cluster/`` of the project.

One job = one detached process group; ``<rule>-<jobid>.log`` holds its output, ``<pid>.exit`` its
exit status and wall-clock start/end (written by the job's wrapper when it ends), and
``jobs.tsv`` one line per submission (pid, rule, snakemake job id, wildcards).
"""
from __future__ import annotations

from pathlib import Path

STATE = Path(".snakemake") / "local-cluster"


def exit_file(pid: str | int) -> Path:
    return STATE / f"{pid}.exit"
