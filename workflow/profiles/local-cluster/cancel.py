#!/usr/bin/env python3
"""Stop the jobs (pids from submit.py): SIGTERM to each job's process group."""
from __future__ import annotations

import os
import signal
import sys

for pid in sys.argv[1:]:
    try:
        os.killpg(int(pid), signal.SIGTERM)
    except (ProcessLookupError, ValueError):
        pass
