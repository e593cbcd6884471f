"""The StyleGAN2 recipe trains: loss falls on a fixed batch, parts and variants behave as specified."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from sg2_smoke_helpers import smoke_cfg, write_manifest

from petra.latents import store as S
from petra.train.loop import TrainOptions, make_optimizer
from petra.generators.stylegan2 import variant_params
from petra.train.sampler import PairSampler

torch.set_num_threads(1)
ONLY_CROP = {"l2": 0.0, "lpips": 0.0, "id": 0.0, "cos": 0.0, "l2_crop": 1.0, "lpips_crop": 0.0}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    cfg = smoke_cfg(tmp_path_factory, ("generator",))
    root = tmp_path_factory.mktemp("sg2train")
    df = write_manifest(root, ids=4, frames=2, size=64)
    # E_i codes as the latents stage stores them (random W+ near the generator's mean latent)
    from petra.generators.stylegan2.parts import load_generator

    _, avg = load_generator(cfg)
    g = torch.Generator().manual_seed(0)
    w = avg[None, None] + 0.3 * torch.randn(len(df), 10, 512, generator=g) * avg.std()
    d = Path(cfg["paths"]["data"]) / "latents" / "psp"
    S.write_shard(S.shard_path(d, 0), list(df["aligned_path"]), {"w": w.numpy()})
    import pandas as pd

    pd.DataFrame({"aligned_path": df["aligned_path"], "shard": 0, "row": range(len(df))}).to_parquet(d / "index.parquet")
    return cfg, root, df


def _recipe(cfg, **over):
    from petra.generators.stylegan2.recipe import StyleGAN2Recipe

    p = variant_params(cfg, over.pop("variant", "ours"))
    p.update(over)
    return StyleGAN2Recipe(cfg, p, "cpu"), p


def test_loss_decreases_over_a_few_dozen_steps_on_a_fixed_batch(setup):
    cfg, root, df = setup
    rec, p = _recipe(cfg, weights=ONLY_CROP, lr=1e-5)  # the thesis optimiser and learning rate
    batch = PairSampler(df, "train", 1, 0, 64, root).batch(0)
    opt = make_optimizer(rec.trainable_parameters(), TrainOptions.from_params(p))
    losses = []
    for _ in range(20):
        terms = rec.step(batch)
        opt.zero_grad()
        terms["total"].backward()
        opt.step()
        losses.append(float(terms["total"].detach()))
    assert np.isfinite(losses).all()
    assert np.mean(losses[-4:]) < 0.6 * losses[0], losses


def test_mapping_starts_as_the_identity_code_so_cross_output_is_the_targets_inversion(setup):
    cfg, root, df = setup
    rec, _ = _recipe(cfg, weights={**ONLY_CROP, "id": 0.0})
    batch = PairSampler(df, "train", 2, 3, 64, root).batch(0)
    w_tR = rec.identity_codes(batch["t_R"], batch.rows["t_R"])
    with torch.no_grad():
        g_AR = rec.generate(batch["s_A"], w_tR)
        ref = rec.render(w_tR, 64)
    torch.testing.assert_close(g_AR, ref, atol=1e-4, rtol=0)


def test_only_the_gen_variant_trains_and_saves_the_generator(setup):
    cfg, _, _ = setup
    ours, _ = _recipe(cfg, weights=ONLY_CROP)
    gen, _ = _recipe(cfg, variant="ours-gen", weights=ONLY_CROP)
    n_g = sum(p.numel() for p in gen.G.parameters())
    n_ours = sum(p.numel() for p in ours.trainable_parameters())
    assert sum(p.numel() for p in gen.trainable_parameters()) == n_ours + n_g
    assert set(ours.state_dict()) == {"E_m", "M"} and set(gen.state_dict()) == {"E_m", "M", "G"}
    assert not any(p.requires_grad for p in ours.G.parameters())
