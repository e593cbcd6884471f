"""Bad input through the whole data half: each bad clip becomes a rejects row, nothing else is lost.

The cases are generated here with ffmpeg from one sample clip (never copied into the
repo): corrupt / truncated / empty / text files named .mp4, a blank video (no face),
two faces side by side, grayscale, tiny (48 px) and 4K frames, and a path with
spaces and non-ASCII characters.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import petra.config
from petra.video import ffmpeg_exe


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def encode(src: Path, dst: Path, vf: str, duration: str = "1.1", pix_fmt: str = "yuv420p") -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-i", str(src), "-t", duration, "-vf", vf, "-an", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", pix_fmt, str(dst))
    return dst


def write_params(tmp: Path, cfg: dict) -> Path:
    """A params.yaml whose top level is ``cfg`` (what `petra --params` reads)."""
    cfg = {**cfg, "profile": "sample"}
    p = tmp / "params.yaml"
    p.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def bad_mirror(tmp_path_factory, sample_root):
    root = tmp_path_factory.mktemp("bad")
    src = sample_root / "videos" / "id0001" / "LivePortrait_d0.mp4"
    v = root / "mirror" / "videos"
    good = encode(src, v / "idgood" / "clip.mp4", "scale=320:320")
    encode(src, v / "id spaced é" / "clip ü 1.mp4", "scale=320:320")
    encode(src, v / "idgray" / "gray.mp4", "scale=320:320,format=gray", pix_fmt="gray")
    encode(src, v / "idtwo" / "two.mp4", "scale=320:320,split[a][b];[a][b]hstack")
    encode(src, v / "idtiny" / "tiny.mp4", "scale=48:48")
    encode(src, v / "id4k" / "big.mp4", "scale=2160:2160,pad=3840:2160:840:0", duration="0.6")
    (v / "idblank").mkdir()
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:size=320x240:rate=25:duration=1.1", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(v / "idblank" / "blank.mp4"))
    bad = v / "idbad"
    bad.mkdir()
    (bad / "empty.mp4").write_bytes(b"")
    (bad / "text.mp4").write_text("not a video\n" * 100)
    (bad / "corrupt.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    (bad / "truncated.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 4])
    return root


@pytest.fixture(scope="module")
def bad_run(bad_mirror, project_root):
    """ingest → manifest on the bad mirror, in its own folder (paths relative to it)."""
    import os

    cfg = petra.config.load(project_root / "params.yaml", "smoke")
    cfg["paths"] = {"data": "data", "reports": "reports", "models": "models"}
    cfg["dataset"] = {**cfg["dataset"], "mirror": str(bad_mirror / "mirror"), "identities": None}
    cfg["ingest"] = {"max_videos_per_identity": 10, "identities_per_shard": 3}
    cfg["frames"] = {**cfg["frames"], "max_per_video": 2}
    cfg["filter"] = {**cfg["filter"], "backend": "mesh"}
    from reliability_helpers import snapshot

    before = snapshot(bad_mirror / "mirror")
    old = Path.cwd()
    os.chdir(bad_mirror)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{bad_mirror / 'mlflow.db'}"
    try:
        from petra.stages.align import run_align
        from petra.stages.filter import run_filter
        from petra.stages.frames import run_frames
        from petra.stages.ingest import run_ingest
        from petra.stages.manifest import run_manifest

        run_ingest(cfg)
        run_frames(cfg)
        run_align(cfg)
        run_filter(cfg)
        manifest = run_manifest(cfg, mlflow=True)
        rejects = pd.read_parquet("data/manifests/rejects.parquet")
        yield {"root": bad_mirror, "manifest": manifest, "rejects": rejects, "cfg": cfg, "before": before}
    finally:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.chdir(old)


def reason_of(rejects: pd.DataFrame, needle: str) -> tuple[str, str]:
    rows = rejects[rejects["path"].str.contains(needle, regex=False)]
    assert len(rows) >= 1, f"no reject row for {needle}: {rejects.to_string()}"
    return rows["stage"].iloc[0], rows["reason"].iloc[0]


@pytest.mark.parametrize("name", ["empty.mp4", "text.mp4", "corrupt.mp4", "truncated.mp4"])
def test_unreadable_files_are_ingest_rejects(bad_run, name):
    stage, reason = reason_of(bad_run["rejects"], f"idbad/{name}")
    assert stage == "ingest"
    assert reason and "Traceback" not in reason


def test_faceless_two_face_and_tiny_clips_are_rejected_with_reasons(bad_run):
    rj = bad_run["rejects"]
    assert reason_of(rj, "idblank/") == ("align", "no face detected")
    stage, reason = reason_of(rj, "idtwo/")
    assert stage == "align" and reason.startswith("several faces")
    stage, reason = reason_of(rj, "idtiny/")
    assert stage == "frames" and "too small" in reason
    assert set(rj["stage"]) <= {"ingest", "frames", "align", "filter"}


def test_good_grayscale_4k_and_unusual_paths_are_kept(bad_run):
    m = bad_run["manifest"]
    kept = set(m["identity"])
    assert {"idgood", "id spaced é", "idgray", "id4k"} <= kept
    assert not kept & {"idblank", "idtwo", "idtiny", "idbad"}
    frames = pd.concat([pd.read_parquet(p) for p in sorted(Path(bad_run["root"], "data/frames/_shards").glob("s*[0-9].parquet"))])
    big = frames[frames["identity"] == "id4k"]
    assert len(big) >= 1 and set(big["width"]) == {1024}  # 4K downscaled to frames.max_side
    root = Path(bad_run["root"])
    for row in m.itertuples():
        assert len(row.landmarks) == 136
        assert (root / row.aligned_path).is_file() and (root / row.frame_path).is_file()
        assert row.split in ("train", "val", "test") and row.pose_backend == "mesh"
    spaced = m[m["identity"] == "id spaced é"]
    assert len(spaced) == 2 and "clip ü 1" in spaced["aligned_path"].iloc[0]


def test_mlflow_run_has_counts_and_params(bad_run):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{bad_run['root'] / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["petra-data"])
    assert len(runs) == 1
    r = runs.iloc[0]
    assert r["metrics.kept"] == len(bad_run["manifest"])
    assert r["metrics.rejected"] == len(bad_run["rejects"])
    assert r["metrics.rejected/align_no_face_detected"] >= 1
    assert r["params.frames.interval_s"] == "0.5" and r["params.ingest.max_videos_per_identity"] == "10"


def test_a_cli_user_gets_one_line_for_a_bad_stage_input(bad_run, tmp_path):
    params = write_params(tmp_path, {k: v for k, v in bad_run["cfg"].items() if k != "profile"})
    res = subprocess.run(["petra", "align", "--params", str(params), "--shard", "s999"], cwd=bad_run["root"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "s999" in res.stderr


def test_the_stages_never_modify_their_inputs(bad_run):
    from reliability_helpers import snapshot, temporaries

    assert snapshot(bad_run["root"] / "mirror") == bad_run["before"]  # every clip's sha256, bad ones too
    assert not temporaries(bad_run["root"] / "data")
