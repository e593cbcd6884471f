"""The latent-arithmetic baseline: z_R + α(z_A1 − z_A0) with video-mean neutrals over frames and flips."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from sg2_smoke_helpers import face_like, smoke_cfg, write_manifest

from petra.generators.stylegan2.baseline.arithmetic import neutral, transfer
from petra.latents import store as S

torch.set_num_threads(1)
quiet = lambda m: None


def test_transfer_adds_the_driving_offset_from_its_neutral():
    z_R, z_A1, z_A0 = torch.full((3, 4), 1.0), torch.full((3, 4), 5.0), torch.full((3, 4), 2.0)
    torch.testing.assert_close(transfer(z_R, z_A1, z_A0), torch.full((3, 4), 4.0))
    torch.testing.assert_close(transfer(z_R, z_A1, z_A0, alpha=0.5), torch.full((3, 4), 2.5))
    torch.testing.assert_close(transfer(z_R, z_A0, z_A0), z_R)  # the neutral frame drives nothing


def test_neutral_averages_frames_and_their_flips():
    w = torch.tensor([[[0.0]], [[2.0]]])
    w_flip = torch.tensor([[[4.0]], [[6.0]]])
    assert float(neutral(w)) == 1.0 and float(neutral(w, w_flip)) == 3.0


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    from petra.generators.stylegan2.baseline.run import run_baseline
    from petra.stages.latents import encode_latents as run_latents

    cfg = smoke_cfg(tmp_path_factory, ("generator", "restyle_psp"))
    root = tmp_path_factory.mktemp("baseline")
    df = write_manifest(root, ids=3, frames=3, size=64)
    run_latents(cfg, "psp", root / "frames.parquet", root=root, log=quiet)
    run_baseline(cfg, "psp", root / "frames.parquet", root=root, log=quiet)
    cfg = {**cfg, "align": {**cfg["align"], "size": 64}}
    return cfg, root, df


def test_stage_stores_each_videos_mean_over_frames_and_flips(baseline):
    cfg, _root, df = baseline
    data = Path(cfg["paths"]["data"])
    st = S.LatentStore(data / "latents" / "psp")
    sh = S.read_shard(data / "baseline" / "psp" / "neutrals.pt")
    assert sh["keys"] == sorted(df["video"].unique())
    keys = df.loc[df["video"] == sh["keys"][1], "aligned_path"].tolist()
    expected = torch.cat([st.get(keys, "w"), st.get(keys, "w_flip")]).mean(0)
    torch.testing.assert_close(sh["arrays"]["w"][1], expected)


def test_reenactor_uses_the_video_neutral_and_moves_only_with_the_driving_offset(baseline):
    from petra.generators.stylegan2.methods import LatentArithmetic
    from petra.media import read_image

    cfg, root, df = baseline
    img = {p: read_image(root / p) for p in df["aligned_path"]}
    target, d0, d1 = df["aligned_path"][0], df["aligned_path"][3], df["aligned_path"][5]
    m = LatentArithmetic(cfg, "psp")
    m.set_target(img[target])
    torch.testing.assert_close(m.z_R, m.neutrals[df["video"][0]])  # recognised as a manifest frame
    m.set_reference(img[d0])
    still = m.drive(img[d0])
    moved = m.drive(img[d1])
    assert still.shape == (64, 64, 3) and still.dtype == np.uint8
    # α = 0 renders the target's neutral whatever drives it
    m0 = LatentArithmetic({**cfg, "baseline": {**cfg["baseline"], "alpha": 0.0}}, "psp")
    m0.set_target(img[target])
    m0.set_reference(img[d0])
    assert np.array_equal(m0.drive(img[d1]), m0.drive(img[d0]))
    assert not np.array_equal(moved, still)


def test_unknown_portraits_are_inverted_with_their_flip(baseline):
    from petra.generators.stylegan2.methods import LatentArithmetic

    cfg, _, _ = baseline
    m = LatentArithmetic(cfg, "psp")
    portrait = face_like(64, 999)
    m.set_target(portrait)
    w = m.codes.invert([portrait, np.ascontiguousarray(portrait[:, ::-1])])
    torch.testing.assert_close(m.z_R, w.mean(0), atol=1e-5, rtol=0)
