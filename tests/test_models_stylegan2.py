"""StyleGAN2 (rosinality layout) reproduces the official generator on the 64/256 fixtures."""
from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F
from zoo_fixtures import close, fill_like_fixture, load_fixture, tol

from petra.models.recipe import STYLEGAN2_OVERRIDES
from petra.models.stylegan2 import Generator, upfirdn2d


@pytest.mark.parametrize("size", [64, 256])
def test_generator_matches_official_z_truncation_wplus_and_mixing(fixtures_dir, size):
    torch.set_num_threads(2)
    name = f"stylegan2_generator_{size}"
    meta, exp = load_fixture(fixtures_dir, name)
    g = Generator(size, 512, 8, channel_multiplier=2).eval()
    fill_like_fixture(g, meta, STYLEGAN2_OVERRIDES)
    assert g.n_latent == meta["constructor"]["n_latent"]
    lat_tol, img_tol = tol(meta, "w/latents"), tol(meta, "images")
    with torch.no_grad():
        w = g.get_latent(exp["input_z"])
        img_z, lat_z = g([exp["input_z"]], return_latents=True, randomize_noise=False, truncation=1)
        t_lat = g.style(exp["input_z_mean_batch"]).mean(0, keepdim=True)
        img_t, lat_t = g([exp["input_z"]], return_latents=True, randomize_noise=False, truncation=0.7,
                         truncation_latent=t_lat)
        img_w, _ = g([exp["input_wplus"]], input_is_latent=True, randomize_noise=False)
        img_m, lat_m = g([exp["input_z"], exp["input_z2"]], return_latents=True, randomize_noise=False, inject_index=3)
    for tag, out in [("w", w), ("latent_z", lat_z), ("truncation_latent", t_lat), ("latent_trunc07", lat_t),
                     ("latent_mix", lat_m)]:
        close(f"{name}/{tag}", out, exp[tag], *lat_tol)
    for tag, img in [("image_z", img_z), ("image_trunc07", img_t), ("image_wplus", img_w), ("image_mix", img_m)]:
        if size == 64:
            close(f"{name}/{tag}", img, exp[tag], *img_tol)
        else:
            close(f"{name}/{tag}_avgpool4", F.avg_pool2d(img, 4), exp[f"{tag}_avgpool4"], *img_tol)
            close(f"{name}/{tag}_crop32", img[:, :, 112:144, 112:144], exp[f"{tag}_crop32"], *img_tol)
    # style mixing really mixes: the first inject_index rows come from z, the rest from z2
    assert torch.equal(lat_m[:, :3], lat_z[:, :3]) and not torch.allclose(lat_m[:, 3:], lat_z[:, 3:])


def test_upfirdn2d_is_zero_insert_pad_and_true_convolution():
    """Hand-worked 1-D case: up=2 inserts zeros, the kernel is flipped (convolution, not correlation)."""
    x = torch.tensor([[[[1.0, 2.0]]]])  # [1,1,1,2]
    k = torch.tensor([[1.0, 2.0]])  # asymmetric so a missing flip would show
    out = upfirdn2d(x, k, up=2, pad=(1, 0))
    # zero-insert -> rows [1,0,2,0], [0,0,0,0]; pad 1 before on both axes -> 3x5;
    # row 1 = [0,1,0,2,0] convolved with [1,2] (= correlation with [2,1]) -> [1,2,2,4]
    assert out.shape == (1, 1, 3, 4)
    assert torch.equal(out[0, 0, 1], torch.tensor([1.0, 2.0, 2.0, 4.0]))
    assert not out[0, 0, 0].any() and not out[0, 0, 2].any()
