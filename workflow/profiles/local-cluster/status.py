#!/usr/bin/env python3
"""Print running, success or failed for a job id (pid) that submit.py returned."""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jobs import exit_file  # noqa: E402


def status(pid: str) -> str:
    for attempt in range(2):  # the exit file, else a live process, else look once more (it may just have ended)
        done = exit_file(pid)
        if done.is_file():
            return "success" if done.read_text().split()[0] == "0" else "failed"
        if attempt == 0:
            try:
                os.kill(int(pid), 0)
                return "running"
            except ProcessLookupError:
                pass
            except PermissionError:
                return "running"
    return "failed"  # gone without an exit file: killed


if __name__ == "__main__":
    print(status(sys.argv[-1]))
