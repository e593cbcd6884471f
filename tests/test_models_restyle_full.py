"""ReStyle pSp/e4e full models, loaded from a synthetic official-format checkpoint, iterate like the official code.

The checkpoint holds {'state_dict': encoder.*/decoder.* (recipe weights), 'latent_avg',
'opts' (a dict)} and goes through :func:`petra.models.restyle.load_restyle`, i.e. the
safe weights_only loader. Two iterations at 1024 px (about 35 s of CPU per variant).
"""
from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F
from zoo_fixtures import close, image_input, key_list, load_fixture

from petra.models import restyle
from petra.models.recipe import (
    STYLEGAN2_OVERRIDES,
    recipe_state_dict,
    state_dict_sha256,
)


@pytest.mark.parametrize("variant", ["psp", "e4e"])
def test_restyle_full_iterative_matches_official(fixtures_dir, tmp_path, variant):
    torch.set_num_threads(2)
    name = f"restyle_{variant}_ffhq_full_iterative_1024"
    meta, exp = load_fixture(fixtures_dir, name)
    encoder_type = meta["constructor"]["opts"]["encoder_type"]
    template = restyle.ReStyle(encoder_type, 1024, 6)
    assert key_list(template) == meta["state_dict_keys"]
    sd = recipe_state_dict(template.state_dict(), STYLEGAN2_OVERRIDES)
    assert state_dict_sha256(sd) == meta["weight_recipe"]["state_dict_sha256_of_raw_bytes_in_sorted_key_order"]
    del template
    latent_avg = torch.randn(512, generator=torch.Generator().manual_seed(2000)).repeat(18, 1)
    torch.testing.assert_close(latent_avg, exp["latent_avg"], atol=0, rtol=0)
    ckpt = tmp_path / f"{name}.pt"
    opts = {k: v for k, v in meta["constructor"]["opts"].items() if k != "checkpoint_path"}
    torch.save({"state_dict": sd, "latent_avg": latent_avg, "opts": opts}, ckpt)
    del sd

    net = restyle.load_restyle(str(ckpt))
    assert net.n_styles == 18 and isinstance(net.encoder, restyle.ENCODERS[encoder_type])
    x = image_input(exp)
    with torch.no_grad():
        avg = net.average_image()
        enc0 = net.encoder(torch.cat([x, avg.unsqueeze(0).repeat(2, 1, 1, 1)], dim=1))
        res = restyle.run_on_batch(x, net, avg, n_iters=2)

    tols = meta["recommended_tolerance"]
    lat0, img0 = tols["encoder_out_iter0, latents iteration 0"], tols["avg_image_*, y_hat iteration 0"]
    lat1, img1 = tols["latents iteration 1"], tols["y_hat iteration 1"]
    close(f"{name}/avg_image_avgpool4", F.avg_pool2d(avg[None], 4)[0], exp["avg_image_avgpool4"], img0["atol"], img0["rtol"])
    close(f"{name}/avg_image_crop32", avg[:, 112:144, 112:144], exp["avg_image_crop32"], img0["atol"], img0["rtol"])
    close(f"{name}/encoder_out_iter0", enc0, exp["encoder_out_iter0"], lat0["atol"], lat0["rtol"])
    for it, (lt, it_tol) in enumerate([(lat0, img0), (lat1, img1)]):
        y = res.images[it]
        assert y.shape == (2, 3, 1024, 1024)
        close(f"{name}/latents_iter{it}", res.latents[it], exp["latents_per_iter"][:, it], lt["atol"], lt["rtol"])
        close(f"{name}/y_hat_iter{it}_avgpool16", F.avg_pool2d(y, 16), exp["y_hat_per_iter_avgpool16"][:, it],
              it_tol["atol"], it_tol["rtol"])
        close(f"{name}/y_hat_iter{it}_crop32", y[..., 496:528, 496:528], exp["y_hat_per_iter_crop32"][:, it],
              it_tol["atol"], it_tol["rtol"])
    # the residual really refines: iteration 1 moved the codes
    assert (res.latents[1] - res.latents[0]).abs().max() > 0.1
