"""The latents stage: ReStyle W+ per manifest frame in resumable, verified shards."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from sg2_smoke_helpers import smoke_cfg, write_manifest

from petra.errors import InputError
from petra.latents import store as S
from petra.stages.latents import encode_latents as run_latents

torch.set_num_threads(1)
quiet = lambda m: None


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    cfg = smoke_cfg(tmp_path_factory, ("generator", "restyle_psp"))
    cfg["latents"] = {**cfg["latents"], "shard_size": 2, "batch_size": 2}
    root = tmp_path_factory.mktemp("latents")
    df = write_manifest(root, ids=3, frames=2, size=64)
    bad = "aligned/broken.png"
    (root / bad).write_bytes(b"not a png")
    df = pd.concat([df, df.iloc[[0]].assign(aligned_path=bad, frame_path=bad)], ignore_index=True)
    df.to_parquet(root / "frames.parquet")
    out = root / "latents" / "psp"
    first = run_latents(cfg, "psp", root / "frames.parquet", out, root=root, log=quiet)
    return cfg, root, df, out, first


def test_every_frame_gets_a_code_and_a_broken_frame_a_reject_row(stage):
    _cfg, _root, df, out, first = stage
    assert first["frames"] == 7 and first["encoded"] == 6 and first["shards_written"] == 4
    rej = pd.read_parquet(out / "rejects.parquet")
    assert rej["path"].tolist() == ["aligned/broken.png"] and rej["stage"].iloc[0] == "latents:psp"
    st = S.LatentStore(out)
    w, wf = st.get(df["aligned_path"][:6], "w"), st.get(df["aligned_path"][:6], "w_flip")
    assert w.shape == (6, 10, 512) and torch.isfinite(w).all()
    assert not torch.allclose(w[0], w[1]) and not torch.allclose(w, wf)


def test_codes_match_a_direct_inversion(stage):
    cfg, root, df, out, _ = stage
    from petra.generators.stylegan2.latents import ReStyleInverter
    from petra.media import read_image

    inv = ReStyleInverter(cfg, "psp")
    direct = inv.invert_images([read_image(root / df["aligned_path"][3])])
    torch.testing.assert_close(S.LatentStore(out).get([df["aligned_path"][3]])[0], direct[0], atol=1e-5, rtol=0)


def test_rerun_reuses_complete_shards_and_rewrites_only_a_missing_one(stage):
    cfg, root, df, out, _ = stage
    before = S.LatentStore(out).get(df["aligned_path"][:6])
    again = run_latents(cfg, "psp", root / "frames.parquet", out, root=root, log=quiet)
    assert again["shards_written"] == 0 and again["shards_reused"] == 4
    S.shard_path(out, 1).unlink()
    third = run_latents(cfg, "psp", root / "frames.parquet", out, root=root, log=quiet)
    assert third["shards_written"] == 1 and third["shards_reused"] == 3
    torch.testing.assert_close(S.LatentStore(out).get(df["aligned_path"][:6]), before, atol=0, rtol=0)


def test_a_tampered_shard_is_refused(stage, tmp_path):
    _, _, _, _out, _ = stage
    p = tmp_path / "shard-00000.pt"
    S.write_shard(p, ["a"], {"w": torch.zeros(1, 2)})
    p.write_bytes(p.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(InputError, match="sha256"):
        S.read_shard(p)
