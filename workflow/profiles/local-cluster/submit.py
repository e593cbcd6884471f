#!/usr/bin/env python3
"""Submit one Snakemake jobscript as its own detached process (a new session: the submitting call
returns at once, as a scheduler's would); prints the job id (its pid) for status.py.

The wrapper shell runs the jobscript, then writes "<exit status> <start> <end>" atomically to
the job's exit file, so status.py can tell success from failure after the process is gone.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jobs import STATE  # noqa: E402

WRAPPER = ('start=$(date +%s.%N); bash "$1"; rc=$?; '
           'echo "$rc $start $(date +%s.%N)" > "$2/$$.exit.tmp" && mv "$2/$$.exit.tmp" "$2/$$.exit"')


def main(jobscript: str) -> int:
    text = Path(jobscript).read_text(encoding="utf-8")
    match = re.search(r"^# properties = (.*)$", text, re.M)
    props = json.loads(match.group(1)) if match else {}
    rule = props.get("rule") or props.get("groupid") or "job"
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / f"{rule}-{props.get('jobid', 'x')}.log", "ab") as log:
        proc = subprocess.Popen(["bash", "-c", WRAPPER, "job", jobscript, str(STATE.resolve())],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wildcards = ",".join(f"{k}={v}" for k, v in sorted((props.get("wildcards") or {}).items()))
    with open(STATE / "jobs.tsv", "a", encoding="utf-8") as f:
        f.write(f"{proc.pid}\t{rule}\t{props.get('jobid', '')}\t{wildcards}\n")
    print(proc.pid)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[-1]))
