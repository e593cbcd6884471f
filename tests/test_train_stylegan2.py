"""The StyleGAN2 recipe trains: loss falls on a fixed batch, parts and variants behave as specified."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from sg2_smoke_helpers import smoke_cfg, write_manifest

from petra.errors import PetraError
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
    rec, p = _recipe(cfg, weights=ONLY_CROP)  # the released optimiser (Ranger + GC) and learning rate 1e-4
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


def test_text_variant_mapping_starts_as_the_identity_code_so_cross_output_is_the_targets_inversion(setup):
    cfg, root, df = setup
    rec, _ = _recipe(cfg, variant="ours-text", weights={**ONLY_CROP, "id": 0.0})
    batch = PairSampler(df, "train", 2, 3, 64, root).batch(0)
    w_tR = rec.identity_codes(batch["t_R"], batch.rows["t_R"])
    with torch.no_grad():
        g_AR = rec.generate(batch["s_A"], w_tR)
        ref = rec.render(w_tR, 64)
    torch.testing.assert_close(g_AR, ref, atol=1e-4, rtol=0)


def test_released_recipe_trains_E_m_from_the_first_step_and_randomises_noise_per_step(setup):
    cfg, root, df = setup
    rec, p = _recipe(cfg, weights=ONLY_CROP)
    assert rec.o.mapping_order == "identity_first" and rec.o.crop == (55, 243, 32, 220) and rec.o.noise == "random"
    sampler = PairSampler(df, "train", 2, 0, 64, root, mode="released")
    b0, b1 = sampler.batch(0), sampler.batch(1)
    rec.step(b0)["total"].backward()
    assert all(q.grad is not None and q.grad.abs().sum() > 0 for q in rec.E_m.parameters() if q.dim() > 1)
    w = rec.identity_codes(b0["t_A"], b0.rows["t_A"])
    with torch.no_grad():
        same = [rec.render(w, 64, rec.noise_generator(b0)) for _ in range(2)]
        other = rec.render(w, 64, rec.noise_generator(b1))
        fixed = rec.render(w, 64)
    torch.testing.assert_close(same[0], same[1], atol=0, rtol=0)  # (seed, step) fixes the noise: resumable
    assert (same[0] - other).abs().max() > 1e-3 and (same[0] - fixed).abs().max() > 1e-3
    text, _ = _recipe(cfg, variant="ours-text", weights=ONLY_CROP)
    assert text.noise_generator(b0) is None  # the text variant keeps G's fixed noise


def test_variants_build_their_encoder_mapping_crop_and_cosface_from_params(setup):
    from petra.generators.stylegan2.recipe import SG2Options

    cfg, _, _ = setup
    released = SG2Options.from_params(variant_params(cfg, "ours"))
    text = SG2Options.from_params(variant_params(cfg, "ours-text"))
    assert (released.motion_encoder, released.cosface, released.id_input) == ("last_layer", "released", "whole")
    assert (text.motion_encoder, text.mapping_order, text.mapping_init) == ("gradual", "motion_first", "identity_residual")
    assert (text.crop, text.cosface, text.cos_b, text.id_input) == ((35, 223, 32, 220), "text", 0.2, "psp_crop")
    import petra.config

    sample = petra.config.load(Path(__file__).resolve().parents[1] / "params.yaml", "sample")  # no smoke resizing
    keys = ("lr", "batch_size", "steps", "val_steps", "selection", "gradient_centralization", "sampling")
    assert [variant_params(sample, "ours")[k] for k in keys] == [1e-4, 4, 500_000, 1000, "val_loss", True, "released"]
    assert [variant_params(sample, "ours-text")[k] for k in keys] == [1e-5, 8, 100_000, 5000, "metrics", False, "distinct"]
    with pytest.raises(PetraError, match=r"section train: train/sg2/colour: unknown key 'colour'"):
        SG2Options.from_params({"sg2": {"colour": "blue"}})
    with pytest.raises(PetraError, match="train/sg2/id_input"):
        SG2Options.from_params({"sg2": {"id_input": "eyes"}})


def test_only_the_gen_variant_trains_and_saves_the_generator(setup):
    cfg, _, _ = setup
    ours, _ = _recipe(cfg, weights=ONLY_CROP)
    gen, _ = _recipe(cfg, variant="ours-gen", weights=ONLY_CROP)
    n_g = sum(p.numel() for p in gen.G.parameters())
    n_ours = sum(p.numel() for p in ours.trainable_parameters())
    assert sum(p.numel() for p in gen.trainable_parameters()) == n_ours + n_g
    assert set(ours.state_dict()) == {"E_m", "M"} and set(gen.state_dict()) == {"E_m", "M", "G"}
    assert not any(p.requires_grad for p in ours.G.parameters())


def test_select_takes_the_best_validation_checkpoint_for_released_variants(setup):
    import json

    from petra.train import checkpoint as ckpt
    from petra.paths import run_dir
    from petra.train.select import run_select

    cfg, root, df = setup
    rdir = run_dir(cfg, "sg2-ours")
    parts = {"M": {"w": torch.zeros(1)}}
    for step in (1, 2):
        ckpt.save_checkpoint(ckpt.checkpoint_path(rdir, step), parts, {"params": {}}, step)
    ckpt.save_checkpoint(ckpt.best_path(rdir), parts, {"params": {}}, 1, None, extra={"val_total": 0.25})
    (rdir / "training_options.json").write_text(json.dumps({"options": {"selection": "val_loss"}}))
    never = lambda path: pytest.fail("val_loss selection must not score checkpoints")  # noqa: E731
    out = run_select(cfg, "sg2-ours", never, root / "frames.parquet", root, log=lambda m: None)
    assert out["checkpoint"] == str(ckpt.best_path(rdir)) and out["step"] == 1 and out["val_total"] == 0.25
    assert "validation loss" in out["criterion"]
