"""The generator-agnostic training contract: sampler, losses, checkpoints, loop and resume."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from petra.errors import InputError
from petra.io import write_image
from petra.train import checkpoint as ckpt
from petra.train import losses
from petra.train.loop import setup, train_loop
from petra.train.sampler import PairSampler

torch.set_num_threads(1)


def make_manifest(root: Path, ids: int = 4, videos: int = 2, frames: int = 3, size: int = 64) -> pd.DataFrame:
    """A tiny manifest with distinct, colour-coded crops (identity → hue, frame → brightness)."""
    rows = []
    rng = np.random.default_rng(0)
    for i in range(ids):
        split = "val" if i >= ids - 2 and ids > 3 else "train"
        for v in range(videos):
            for f in range(frames):
                img = np.zeros((size, size, 3), np.uint8)
                img[..., i % 3] = 60 + 60 * f
                img[size // 4 : size // 2, :, (i + 1) % 3] = 40 * v + 20 * f
                rel = f"aligned/id{i:04d}/v{v}/{f}.png"
                write_image(root / rel, img)
                lm = rng.uniform(0, size, (68, 2)).astype(np.float32)
                rows.append({"identity": f"id{i:04d}", "video": f"id{i:04d}/v{v}", "time_s": 0.5 * f, "frame_path": rel,
                                 "aligned_path": rel, "landmarks": lm.ravel().tolist(), "yaw": 0.0, "pitch": 0.0, "roll": 0.0,
                                 "pose_backend": "test", "split": split})
    return pd.DataFrame(rows)


def test_sampler_draws_same_video_for_A_and_another_identity_for_R(tmp_path):
    df = make_manifest(tmp_path, ids=5)
    s = PairSampler(df, "train", batch_size=16, seed=3, root=tmp_path)
    b = s.batch(5)
    assert b["s_A"].shape == (16, 3, 64, 64) and b["lm_t_R"].shape == (16, 68, 2)
    assert b["s_A"].min() >= -1 and b["s_A"].max() <= 1
    for k in range(16):
        sa, ta, sr, tr = (b.rows[r][k] for r in ("s_A", "t_A", "s_R", "t_R"))
        assert sa["video"] == ta["video"] and sa["aligned_path"] != ta["aligned_path"]
        assert sr["video"] == tr["video"] and sr["identity"] != sa["identity"]
        assert {sa["split"], sr["split"]} == {"train"}
    # a function of (seed, step): same again, different for another step or seed
    assert s.indices(5) == PairSampler(df, "train", 16, 3, root=tmp_path).indices(5)
    assert s.indices(5) != s.indices(6)
    assert s.indices(5) != PairSampler(df, "train", 16, 4, root=tmp_path).indices(5)


def test_sampler_resizes_crops_and_landmarks_together(tmp_path):
    df = make_manifest(tmp_path, ids=4)
    full = PairSampler(df, "train", 2, 0, root=tmp_path).batch(0)
    half = PairSampler(df, "train", 2, 0, size=32, root=tmp_path).batch(0)
    assert half["t_A"].shape[-1] == 32
    torch.testing.assert_close(half["lm_t_A"], full["lm_t_A"] * 0.5)


def test_inner_crop_is_188_of_256_and_scales():
    assert losses.inner_crop(torch.zeros(1, 3, 256, 256)).shape[-2:] == (188, 188)
    assert losses.inner_crop(torch.zeros(1, 3, 64, 64)).shape[-2:] == (47, 47)


def test_cosface_prefers_matching_motion_descriptors():
    g = torch.Generator().manual_seed(0)
    anchor = torch.randn(8, 32, generator=g)
    neg = torch.randn(8, 32, generator=g)
    good = losses.cosface_motion_loss(anchor, [anchor + 0.05 * torch.randn(8, 32, generator=g)] * 2, neg)
    bad = losses.cosface_motion_loss(anchor, [neg, neg], anchor)
    assert good < bad
    # the margin b makes a perfect positive cost more than with no margin
    assert losses.cosface_motion_loss(anchor, [anchor], neg, b=0.2) > losses.cosface_motion_loss(anchor, [anchor], neg, b=0.0)


def test_identity_loss_is_zero_for_same_embedding_and_weighted_total_skips_zero_weights():
    emb = torch.nn.Linear(12, 4)
    x = torch.randn(3, 12)
    assert float(losses.identity_loss(emb, x, x).detach()) == pytest.approx(0.0, abs=1e-6)
    w = losses.LossWeights(l2=1.0, lpips=0, id=0, cos=0, l2_crop=2.0, lpips_crop=0)
    a, b = torch.zeros(2, 3, 64, 64), torch.ones(2, 3, 64, 64)
    terms = losses.reconstruction_terms(a, b, w, lpips_fn=None)
    assert set(terms) == {"l2", "l2_crop"}
    assert float(losses.weighted_total(terms, w)) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        losses.reconstruction_terms(a, b, losses.LossWeights(l2=0, lpips=0.05, id=0, cos=0, l2_crop=0, lpips_crop=0),
                                    lpips_fn=None)


class ToyRecipe:
    """g = s_A·scale + bias: trains toward s_A; enough to exercise the loop."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.net = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.w = losses.LossWeights(l2=1.0, lpips=0, id=0, cos=0, l2_crop=1.0, lpips_crop=0)

    def trainable_parameters(self):
        return self.net.parameters()

    def step(self, batch):
        terms = losses.reconstruction_terms(self.net(batch["t_A"]), batch["s_A"], self.w, None)
        terms["total"] = losses.weighted_total(terms, self.w)
        return terms

    def validate(self, batch):
        with torch.no_grad():
            return {k: float(v) for k, v in self.step(batch).items()}

    def state_dict(self):
        return {"net": self.net.state_dict()}

    def load_state_dict(self, parts):
        self.net.load_state_dict(parts["net"])

    def train(self, mode=True):
        self.net.train(mode)


PARAMS = {"variant": "toy", "steps": 6, "batch_size": 4, "lr": 1e-2, "optimizer": "ranger", "seed": 0, "tick_steps": 2,
              "val_steps": 3, "val_batches": 2, "checkpoint_steps": 3, "device": "cpu"}


def test_loop_resumes_to_the_same_weights_as_an_uninterrupted_run(tmp_path):
    df = make_manifest(tmp_path)
    quiet = lambda m: None
    one = setup({"generator": {"name": "toy"}}, PARAMS, tmp_path / "one", df, ToyRecipe(), tmp_path, log=quiet)
    train_loop(one)
    # interrupted run: 3 steps, then a fresh process resumes from ckpt-3 with a fresh recipe
    two = setup({"generator": {"name": "toy"}}, {**PARAMS, "steps": 3}, tmp_path / "two", df, ToyRecipe(), tmp_path, log=quiet)
    train_loop(two)
    resumed = setup({"generator": {"name": "toy"}}, PARAMS, tmp_path / "two", df, ToyRecipe(), tmp_path, log=quiet)
    assert resumed.step == 3
    summary = train_loop(resumed)
    assert summary["steps_this_run"] == 3
    for a, b in zip(one.recipe.net.parameters(), resumed.recipe.net.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "two")] == [3, 6]
    assert (tmp_path / "one" / "training_options.json").is_file()
    val = [l for l in (tmp_path / "one" / "val.jsonl").read_text().splitlines()]
    assert len(val) == 2 and "val_total" in val[0]


def test_checkpoint_with_wrong_sha256_is_refused(tmp_path):
    p = ckpt.save_checkpoint(tmp_path / "ckpt-00000001.pt", {"a": {"w": torch.ones(2)}}, {"x": 1}, 1)
    assert ckpt.load_checkpoint(p)["parts"]["a"]["w"].sum() == 2
    data = bytearray(p.read_bytes())
    data[-20] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(InputError, match="sha256 mismatch"):
        ckpt.load_checkpoint(p)


def test_released_sampler_shuffles_every_train_frame_once_per_epoch_and_lets_R_be_anyone(tmp_path):
    df = make_manifest(tmp_path, ids=5, videos=2, frames=3)  # 3 train identities x 6 frames
    s = PairSampler(df, "train", batch_size=4, seed=1, root=tmp_path, mode="released")
    train_paths = sorted(df.loc[df["split"] == "train", "aligned_path"])
    assert s.n_batches == len(train_paths) // 4
    epoch = [r["aligned_path"] for k in range(s.n_batches) for r in s.batch(k).rows["s_A"]]
    assert len(epoch) == len(set(epoch)) == s.n_batches * 4 and set(epoch) <= set(train_paths)  # drop_last
    same_identity_R = same_frame_t = 0
    for k in range(40):
        idx = s.indices(k)
        for a, ta, r, tr in zip(idx["s_A"], idx["t_A"], idx["s_R"], idx["t_R"]):
            A, R = s.df.loc[a], s.df.loc[r]
            assert s.df.loc[ta, "identity"] == A["identity"] and s.df.loc[tr, "identity"] == R["identity"]
            assert ta in s.pool[A["identity"]] and R["split"] == "train"
            same_identity_R += R["identity"] == A["identity"]
            same_frame_t += ta == a
    assert same_identity_R > 0 and same_frame_t > 0  # as released: R may be A, E_i may come from s_A itself
    assert s.indices(7) == PairSampler(df, "train", 4, 1, root=tmp_path, mode="released").indices(7)


def test_released_val_sampler_reads_the_split_in_order_and_pairs_frame_i_with_i_plus_10(tmp_path):
    df = make_manifest(tmp_path, ids=6, videos=2, frames=4)  # val: 2 identities x 8 frames = 16 frames
    s = PairSampler(df, "val", batch_size=5, seed=0, root=tmp_path, mode="released")
    paths = sorted(df.loc[df["split"] == "val", "aligned_path"])
    assert s.n_batches == 4  # 5 + 5 + 5 + 1: the last batch is short, as a DataLoader without drop_last
    a = [s.df.loc[i, "aligned_path"] for k in range(4) for i in s.indices(k)["s_A"]]
    r = [s.df.loc[i, "aligned_path"] for k in range(4) for i in s.indices(k)["s_R"]]
    assert a == paths and r == [paths[(i + 10) % 16] for i in range(16)]


def test_latent_pool_spreads_ten_frames_over_an_identity():
    from petra.train.sampler import latent_pool

    assert latent_pool(list(range(4))) == [0, 1, 2, 3]
    pool = latent_pool(list(range(100, 137)))
    assert len(pool) == 10 and pool[0] == 100 and pool[-1] == 136 and pool == sorted(set(pool))


def test_val_loss_selection_keeps_the_best_validation_checkpoint(tmp_path):
    df = make_manifest(tmp_path)
    params = {**PARAMS, "steps": 9, "selection": "val_loss", "sampling": "distinct"}
    state = setup({"generator": {"name": "toy"}}, params, tmp_path / "run", df, ToyRecipe(), tmp_path, log=lambda m: None)
    summary = train_loop(state)
    vals = [json.loads(line) for line in (tmp_path / "run" / "val.jsonl").read_text().splitlines()]
    best = min(vals, key=lambda v: v["val_total"])
    obj = ckpt.load_checkpoint(ckpt.best_path(tmp_path / "run"))
    assert obj["step"] == best["step"] and obj["optimizer"] is None
    assert obj["extra"]["val_total"] == pytest.approx(best["val_total"]) == summary["best_val_total"]
    assert "best.pt" not in summary["checkpoints"]  # not a resumable snapshot


def test_gradient_centralisation_is_the_default_ranger_and_can_be_switched_off():
    from petra.train.loop import TrainOptions, make_optimizer

    w = torch.nn.Parameter(torch.zeros(3, 4))
    on = make_optimizer([w], TrainOptions.from_params({**PARAMS}))
    off = make_optimizer([w], TrainOptions.from_params({**PARAMS, "gradient_centralization": False}))
    assert on.use_gc and not off.use_gc
