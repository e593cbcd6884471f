"""ReStyle pSp/e4e encoders and the pSp GradualStyleEncoder reproduce the official ones."""
from __future__ import annotations

import pytest
import torch
from zoo_fixtures import close, fill_like_fixture, image_input, load_fixture, tol

from petra.models.psp_encoder import GradualStyleEncoder
from petra.models.restyle import BackboneEncoder, ProgressiveBackboneEncoder


def _trunk_taps(enc: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    h = enc.input_layer(x)
    taps = []
    for i, layer in enumerate(enc.body):
        h = layer(h)
        if i in (6, 20, 23):
            taps.append(h)
    return taps


@pytest.mark.parametrize("name", ["restyle_psp_encoder_n18", "restyle_psp_encoder_n14",
                                  "restyle_e4e_encoder_n18", "restyle_e4e_encoder_n14"])
def test_restyle_encoder_matches_official(fixtures_dir, name):
    torch.set_num_threads(2)
    meta, exp = load_fixture(fixtures_dir, name)
    n_styles = meta["constructor"]["n_styles"]
    cls = BackboneEncoder if "_psp_" in name else ProgressiveBackboneEncoder
    enc = cls(50, "ir_se", n_styles, input_nc=6).eval()
    fill_like_fixture(enc, meta)
    x = image_input(exp)
    with torch.no_grad():
        latents = enc(x)
        taps = _trunk_taps(enc, x)
    assert latents.shape == (2, n_styles, 512)
    close(f"{name}/latents", latents, exp["latents"], *tol(meta, "latents"))
    for tag, t in zip(["feat_body6_c1_slice", "feat_body20_c2_slice", "feat_body23_c3_slice"], taps):
        close(f"{name}/{tag}", t[:, :8, :4, :4], exp[tag], *tol(meta, "features"))


def test_psp_gradual_style_encoder_matches_official_in_eval_and_train_mode(fixtures_dir):
    torch.set_num_threads(2)
    name = "psp_gradual_style_encoder_n14"
    meta, exp = load_fixture(fixtures_dir, name)
    enc = GradualStyleEncoder(50, "ir_se", input_nc=3, n_styles=14).eval()
    sd = fill_like_fixture(enc, meta)
    x = image_input(exp)
    with torch.no_grad():
        latents = enc(x)
        c1, c2, c3 = enc.features(x)
    close(f"{name}/latents", latents, exp["latents"], *tol(meta, "latents"))
    for tag, t in zip(["feat_body6_c1_slice", "feat_body20_c2_slice", "feat_body23_c3_slice"], (c1, c2, c3)):
        close(f"{name}/{tag}", t[:, :8, :4, :4], exp[tag], *tol(meta, "features"))
    # train mode: BatchNorm on batch statistics (what E_m sees during training)
    enc.load_state_dict(sd)
    enc.train()
    with torch.no_grad():
        latents_train = enc(x)
    close(f"{name}/latents_train_mode", latents_train, exp["latents_train_mode"], *tol(meta, "latents_train_mode"))
    assert not torch.allclose(latents_train, latents, atol=1e-3)
