"""The data stages: artifact paths from (identity, video, time), resume records that cannot go
stale, safe URL-list ingest, one-line errors for bad stage input, inputs never modified."""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from reliability_helpers import encode, error_lines, snapshot
from reliability_helpers import mini_mirror as make_mirror

import petra.config


@pytest.fixture(scope="module")
def mini_mirror(tmp_path_factory, sample_root) -> Path:
    return make_mirror(tmp_path_factory.mktemp("mini") / "mirror", sample_root)


def mini_cfg(project_root: Path, mirror: Path, data: str | Path = "data") -> dict:
    cfg = petra.config.load(project_root / "params.yaml", "smoke")
    cfg["paths"] = {"data": str(data), "reports": "reports", "models": "models"}
    cfg["dataset"] = {**cfg["dataset"], "mirror": str(mirror), "identities": None}
    cfg["ingest"] = {"max_videos_per_identity": 4, "identities_per_shard": 8}
    cfg["frames"] = {**cfg["frames"], "max_per_video": 3}
    cfg["filter"] = {**cfg["filter"], "backend": "mesh"}
    return cfg


def run_until(cfg: dict, *stages: str) -> None:
    from petra.stages.align import run_align
    from petra.stages.frames import run_frames
    from petra.stages.ingest import run_ingest

    fns = {"ingest": run_ingest, "frames": run_frames, "align": run_align}
    for s in stages:
        fns[s](cfg)


def test_absolute_data_path_gives_each_clip_its_own_crops(tmp_path, project_root, mini_mirror, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = snapshot(mini_mirror)
    cfg = mini_cfg(project_root, mini_mirror, data=tmp_path / "abs data")
    run_until(cfg, "ingest", "frames", "align")
    aligned = pd.read_parquet(tmp_path / "abs data" / "aligned" / "_shards" / "s000.parquet")
    a = aligned[aligned["identity"] == "idA"]
    assert set(a["video"]) == {"idA/clip1", "idA/clip2"}
    assert len(a) == 6 and a["aligned_path"].nunique() == 6  # was: 6 rows pointing to 3 files
    for row in a.itertuples():
        assert Path(row.aligned_path).parent.name == row.video.split("/")[1]
        assert Path(row.aligned_path).is_file()
    assert snapshot(mini_mirror) == before


def test_partly_undecodable_clip_is_a_frames_reject_with_counts(tmp_path, project_root, mini_mirror, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = mini_cfg(project_root, mini_mirror)
    run_until(cfg, "ingest", "frames")
    rej = pd.read_parquet("data/frames/_shards/s000.rejects.parquet")
    row = rej[rej["path"].str.contains("idC/damaged.mp4")]
    assert len(row) == 1 and row["reason"].iloc[0].startswith("partly undecodable: decoded")
    assert not list(Path("data/frames/idC").rglob("*.png"))  # a rejected clip keeps no frames


def test_changed_settings_or_source_redo_the_records(tmp_path, project_root, mini_mirror, monkeypatch):
    import shutil

    from petra.media import read_image

    mirror = tmp_path / "mirror"
    shutil.copytree(mini_mirror, mirror)
    monkeypatch.chdir(tmp_path)
    cfg = mini_cfg(project_root, mirror)
    cfg["frames"]["max_per_video"] = 10
    run_until(cfg, "ingest", "frames", "align")
    frames = pd.read_parquet("data/frames/_shards/s000.parquet")
    assert len(frames[frames["video"] == "idB/clip"]) == 3  # 0, ~0.5, 1.0 s

    cfg["frames"]["interval_s"] = 1.0  # was reused as the 0.5 s frames
    cfg["align"]["size"] = 1024  # was reused as 256-px crops
    run_until(cfg, "frames", "align")
    frames = pd.read_parquet("data/frames/_shards/s000.parquet")
    assert sorted(frames.loc[frames["video"] == "idB/clip", "time_s"]) == [0.0, 1.0]
    assert len(list(Path("data/frames/idB/clip").glob("*.png"))) == 2  # the 0.5 s frame is gone
    aligned = pd.read_parquet("data/aligned/_shards/s000.parquet")
    assert {read_image(p).shape for p in aligned["aligned_path"]} == {(1024, 1024, 3)}

    # the source clip replaced by another (same name): its frames are redone
    old = read_image("data/frames/idB/clip/t0000000.png")
    encode(mini_mirror / "videos" / "idA" / "clip1.mp4", mirror / "videos" / "idB" / "clip.mp4", "hflip")
    run_until(cfg, "ingest", "frames")
    new = read_image("data/frames/idB/clip/t0000000.png")
    assert (abs(new.astype(int) - old).mean()) > 5


def test_rewriting_a_table_removes_what_a_killed_write_of_it_left(tmp_path):
    """A kill -9 between an atomic write's temporary and its rename leaves the temporary; the rerun of
    the stage rewrites the table and must not leave it there forever (seen in CI: a killed ingest's
    ``raw/.rejects.parquet.petra-<pid>-….tmp.parquet`` survived the rerun). Only dead writers' files go."""
    import os

    from petra.io import write_json, write_parquet

    pid = subprocess.Popen(["true"])  # spawned and reaped: its pid belongs to no live process
    pid.wait()
    stale = tmp_path / f".rejects.parquet.petra-{pid.pid}-abcd1234.tmp.parquet"
    stale_json = tmp_path / f".summary.json.petra-{pid.pid}-abcd1234.tmp.json"
    live = tmp_path / f".rejects.parquet.petra-{os.getpid()}-abcd1234.tmp.parquet"  # a writer still running
    other = tmp_path / f".videos.parquet.petra-{pid.pid}-abcd1234.tmp.parquet"      # another file's
    for p in (stale, stale_json, live, other):
        p.write_bytes(b"partial")
    write_parquet(tmp_path / "rejects.parquet", pd.DataFrame({"path": ["a"], "reason": ["b"]}))
    write_json(tmp_path / "summary.json", {"ok": True})
    assert not stale.exists() and not stale_json.exists()
    assert live.exists() and other.exists()
    assert pd.read_parquet(tmp_path / "rejects.parquet")["path"].tolist() == ["a"]


def test_stale_latent_shards_are_redone(tmp_path):
    import torch

    from petra.latents import store

    p = store.shard_path(tmp_path, 0)
    store.write_shard(p, ["a", "b"], {"w": torch.zeros(2, 3)}, depends="settings-1")
    assert store.shard_complete(p, ["a", "b"], "settings-1")
    assert not store.shard_complete(p, ["a", "b"], "settings-2")


def test_training_made_with_other_params_is_not_resumed(tmp_path):
    from test_train_loop import PARAMS, ToyRecipe, make_manifest

    from petra.train import checkpoint as ckpt
    from petra.train.loop import setup, train_loop

    df = make_manifest(tmp_path)
    quiet = lambda m: None  # noqa: E731
    cfg = {"generator": {"name": "toy"}}
    train_loop(setup(cfg, PARAMS, tmp_path / "run", df, ToyRecipe(), tmp_path, log=quiet))
    changed = {**PARAMS, "lr": 1e-3}
    state = setup(cfg, changed, tmp_path / "run", df, ToyRecipe(), tmp_path, log=quiet)
    assert state.step == 0  # was: "resumed" at step 6, i.e. the old lr's weights under the new params
    train_loop(state)
    fresh = setup(cfg, changed, tmp_path / "fresh", df, ToyRecipe(), tmp_path, log=quiet)
    train_loop(fresh)
    for a, b in zip(state.recipe.net.parameters(), fresh.recipe.net.parameters()):
        torch_close(a, b)
    rows = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == [2, 4, 6]
    more = setup(cfg, {**changed, "steps": 9}, tmp_path / "run", df, ToyRecipe(), tmp_path, log=quiet)
    assert more.step == 6  # more steps of the same params: training continues
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "run")] == [3, 6]


def torch_close(a, b) -> None:
    import torch

    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


# --- URL-list ingest: every bad row is a reject; nothing lands outside data/raw/downloads ---

URL_CASES = {
    "identity ../../x": ("../../x", "{base}/a.mp4", "bad identity"),
    "absolute identity": ("{tmp}/evil", "{base}/a.mp4", "bad identity"),
    "identity ..": ("..", "{base}/a.mp4", "bad identity"),
    "file:// URL": ("idF", "file://{served}/a.mp4", "only http(s) URLs"),
    "ftp:// URL": ("idG", "ftp://127.0.0.1/a.mp4", "only http(s) URLs"),
    "no scheme": ("idH", "{served}/a.mp4", "only http(s) URLs"),
    "missing sha256": ("idI", "{base}/a.mp4", "incomplete row"),
}


def test_url_list_rejects_unsafe_rows_and_keeps_downloads_inside(tmp_path, http_dir):
    from petra.data import ingest

    served, base = http_dir
    (served / "a.mp4").write_bytes(b"video bytes")
    sha = hashlib.sha256(b"video bytes").hexdigest()
    lines = ["url\tsha256\tidentity\tlocal_path"]
    for ident, url, _ in URL_CASES.values():
        row_sha = "" if ident == "idI" else sha
        lines.append(f"{url.format(base=base, served=served)}\t{row_sha}\t{ident.format(tmp=tmp_path)}\t")
    lines.append(f"{base}/a.mp4\t{sha}\tidOK\t../../../escape.mp4")  # a local_path cannot climb either
    lst = tmp_path / "urls.tsv"
    lst.write_text("\n".join(lines) + "\n")
    rejects: list[dict] = []
    dest = tmp_path / "data" / "raw" / "downloads"
    rows = ingest.download_list(ingest.read_url_list(lst), dest, rejects)
    assert [r["identity"] for r in rows] == ["idOK"] and Path(rows[0]["path"]) == dest / "idOK" / "escape.mp4"
    assert len(rejects) == len(URL_CASES)
    for (name, (_, _, reason)), rej in zip(URL_CASES.items(), rejects):
        assert reason in rej["reason"], (name, rej)
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(dest)
               and p.name not in ("urls.tsv", "a.mp4")]
    assert outside == [] and not (tmp_path / "evil").exists()


# --- stage commands: one line, exit 2, for bad stage input ---

def _params(tmp: Path, cfg: dict) -> Path:
    p = tmp / "params.yaml"
    p.write_text(yaml.safe_dump({**{k: v for k, v in cfg.items() if k != "profile"}, "profile": "sample"}))
    return p


STAGE_CASES = {
    "frames before ingest": (["frames"], None, "no video listing; run `petra ingest` first"),
    "manifest before the stages": (["manifest", "--no-mlflow"], "listing", "missing; run `petra frames"),
    "unknown shard": (["align", "--shard", "s999"], "listing", "unknown shards ['s999']"),
    "unknown identity": (["frames", "--identity", "nobody"], "listing", "unknown identities ['nobody']"),
    "train without a manifest": (["train", "--method", "mesh-ours", "--no-mlflow"], None, "manifest not found"),
    "params not YAML": (["ingest"], "bad-yaml", "params.yaml: not valid YAML"),
    "params against the schema": (["ingest"], "bad-schema", "align/size: 'big' is not of type 'integer'"),
    "unknown profile": (["ingest", "--profile", "nope"], None, "unknown profile 'nope'"),
    "params file missing": (["ingest", "--params", "missing.yaml"], None, "missing.yaml: params file not found"),
    "URL list missing": (["ingest"], "no-url-list", "urls.tsv: No such file or directory"),
}


@pytest.mark.parametrize("name", list(STAGE_CASES))
def test_bad_stage_input_is_one_line_exit_2(name, tmp_path, project_root, mini_mirror):
    argv, setup, text = STAGE_CASES[name]
    cfg = mini_cfg(project_root, mini_mirror)
    params = _params(tmp_path, cfg)
    if setup == "listing":
        subprocess.run(["petra", "ingest", "--params", str(params)], cwd=tmp_path, check=True, capture_output=True)
    elif setup == "bad-yaml":
        params.write_text("paths: {data: [unclosed\n")
    elif setup == "bad-schema":
        params.write_text(yaml.safe_dump({**yaml.safe_load(params.read_text()), "align": {**cfg["align"], "size": "big"}}))
    elif setup == "no-url-list":
        params.write_text(yaml.safe_dump({**yaml.safe_load(params.read_text()),
                                          "dataset": {**cfg["dataset"], "source": "urls", "url_list": "urls.tsv"}}))
    before = snapshot(mini_mirror)
    if "--params" not in argv:
        argv = [*argv, "--params", str(params)]
    res = subprocess.run(["petra", *argv], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    lines = error_lines(res.stderr, argv[0])
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert text in lines[0], lines[0]
    assert snapshot(mini_mirror) == before
