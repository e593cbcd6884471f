"""An align run killed mid-way resumes without redoing finished frames and without corrupt files."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import yaml

import petra.config
from petra.media import read_image


def test_align_killed_midway_resumes_without_redoing_work(tmp_path, project_root, sample_root):
    cfg = petra.config.load(project_root / "params.yaml", "smoke")
    cfg["paths"] = {"data": "data", "reports": "reports", "models": "models"}
    cfg["dataset"] = {**cfg["dataset"], "mirror": str(sample_root), "identities": 6}
    cfg["ingest"] = {"max_videos_per_identity": 1, "identities_per_shard": 6}  # one shard: one long job
    cfg["frames"] = {**cfg["frames"], "max_per_video": 8}
    cfg = {k: v for k, v in cfg.items() if k != "profile"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**cfg, "profile": "sample"}), encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def run(*args: str, **kw) -> subprocess.Popen:
        return subprocess.Popen(["petra", *args, "--params", "params.yaml"], cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)

    for stage in ("ingest", "frames"):
        assert run(stage).wait(timeout=300) == 0
    n_frames = len(pd.read_parquet(tmp_path / "data/frames/_shards/s000.parquet"))
    assert n_frames >= 20
    aligned = tmp_path / "data" / "aligned"

    # start align and kill it hard once a few frames are done
    proc = run("align", start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(aligned.rglob("t*.json"))) < 4 and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    records = sorted(aligned.rglob("t*.json"))
    assert 4 <= len(records) < n_frames, "align finished before it could be interrupted"
    assert not (aligned / "_shards" / "s000.parquet").exists()  # the job's table is written last
    for rec in records:  # what exists is whole: records parse, their crops decode
        data = json.loads(rec.read_text())
        if "reject" not in data:
            assert read_image(rec.with_suffix(".png")).shape == (256, 256, 3)
    before = {r: r.stat().st_mtime_ns for r in records}

    # resume: finished frames are kept as they are, the rest is done, temp files are gone
    res = run("align")
    assert res.wait(timeout=300) == 0, res.stderr.read().decode()
    table = pd.read_parquet(aligned / "_shards" / "s000.parquet")
    rejects = pd.read_parquet(aligned / "_shards" / "s000.rejects.parquet")
    assert len(table) + len(rejects) == n_frames
    assert all(r.stat().st_mtime_ns == t for r, t in before.items())
    assert not [p for p in aligned.rglob(".*") if ".tmp" in p.name]

    # and the crops equal a fresh, uninterrupted alignment of the same frames
    from petra.data.ffhq import align_face

    for row in table.iloc[:: max(1, len(table) // 5)].itertuples():
        rec = json.loads((tmp_path / row.aligned_path).with_suffix(".json").read_text())
        frame = read_image(tmp_path / row.frame_path)
        fresh = align_face(frame, np.array(rec["landmarks_src"]), 256).image
        assert np.array_equal(fresh, read_image(tmp_path / row.aligned_path))
