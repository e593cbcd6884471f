"""petra's StyleGAN2 path reproduces the thesis's released code (../shared/fixtures/thesis_code).

Each fixture was made by running the released code (JahodaPetr/Pose-and-Expression-Transfer)
on CPU with the fixtures' recipe weights; these tests rebuild the same weights, load them into
petra's modules by the released key names (strict) and compare at the JSON's tolerance.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from zoo_fixtures import close

from petra.models.recipe import recipe_state_dict, state_dict_sha256

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def thesis_dir(fixtures_dir: Path) -> Path:
    d = fixtures_dir / "thesis_code"
    if not d.is_dir():
        pytest.skip(f"{d} not present")
    return d


def _fixture(d: Path, name: str) -> tuple[dict, dict[str, torch.Tensor]]:
    meta = json.loads((d / f"{name}.json").read_text())
    return meta, torch.load(d / f"{name}.pt", map_location="cpu", weights_only=True)


def _fill(module: torch.nn.Module, meta: dict) -> dict[str, torch.Tensor]:
    """Released key names and shapes, then the recipe weights (sha-checked), loaded strictly."""
    keys = [[k["key"], k["shape"], k["dtype"]] for k in meta["keys"]]
    ours = [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in sorted(module.state_dict().items())]
    assert ours == keys, "state_dict keys/shapes differ from the released model"
    sd = recipe_state_dict(module.state_dict())
    assert state_dict_sha256(sd) == meta["weights_sha256"]
    module.load_state_dict(sd, strict=True)
    return sd


def _codes(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 127.5 - 1.0


def test_thesis_motion_encoder_matches_released_code_in_eval_and_train_mode(thesis_dir):
    from petra.models.psp_encoder import BackboneEncoderUsingLastLayerIntoWPlus

    name = "thesis_motion_encoder_n18"
    meta, exp = _fixture(thesis_dir, name)
    enc = BackboneEncoderUsingLastLayerIntoWPlus(50, "ir_se", input_nc=3, n_styles=18)
    # n_params counts parameters and BatchNorm running statistics
    assert sum(v.numel() for k, v in enc.state_dict().items() if "num_batches" not in k) == meta["n_params"]
    sd = _fill(enc, meta)
    x = _codes(exp["input_codes"])
    with torch.no_grad():
        codes_eval = enc.eval()(x)
        enc.load_state_dict(sd)
        codes_train = enc.train()(x)  # BatchNorm on batch statistics, as E_m sees batches in training
    atol = meta["tolerance_atol"]
    close(f"{name}/codes_eval", codes_eval, exp["codes_eval"], atol, 0)
    close(f"{name}/codes_train_mode", codes_train, exp["codes_train_mode"], atol, 0)


def test_thesis_mapping_concatenates_identity_first_at_released_init_and_with_recipe_weights(thesis_dir):
    from petra.models.mapping import LinearMapping

    name = "thesis_mapping_n18"
    meta, exp = _fixture(thesis_dir, name)
    m = LinearMapping(18, 512)  # released order and initialisation by default
    assert state_dict_sha256(m.state_dict()) == meta["official_init_weights_sha256"]
    ident, motion = exp["restyle_latent"], exp["encoder_codes"]
    with torch.no_grad():
        at_init = m(motion, ident)
        _fill(m, meta)
        with_recipe = m(motion, ident)
        swapped = m(ident, motion)
    atol = meta["tolerance_atol"]
    close(f"{name}/w_plus_official_init", at_init, exp["w_plus_official_init"], atol, 0)
    close(f"{name}/w_plus_recipe", with_recipe, exp["w_plus_recipe"], atol, 0)
    assert (swapped - exp["w_plus_recipe"]).abs().max() > 100 * atol  # the order matters and is identity first



def test_thesis_cosface_value_matches_released_code_and_the_margin_cancels(thesis_dir):
    from petra.train.losses import cosface_released

    name = "thesis_cosface"
    meta, exp = _fixture(thesis_dir, name)
    # released call: cosface(E_m(g_AA), E_m(g_AR), encoder_code=E_m(s_A), E_m(s_R))
    args = (exp["zd"], (exp["zs_d"], exp["zss_d"]), exp["zds"])
    atol = meta["tolerance_atol"]
    close(f"{name}/loss_s5_m2", cosface_released(*args, s=5.0, m=2.0), exp["loss_s5_m2"], atol, 0)
    close(f"{name}/loss_s5_m0.2", cosface_released(*args, s=5.0, m=0.2), exp["loss_s5_m0.2"], atol, 0)
    # the negatives matter: swapping anchor and negative raises the loss
    assert cosface_released(exp["zds"], args[1], exp["zd"]) > cosface_released(*args) + 0.1


def _arcface(thesis_meta: dict) -> torch.nn.Module:
    from petra.models.arcface_irse50 import Backbone

    net = Backbone(50, 0.6, "ir_se")
    sd = recipe_state_dict(net.state_dict())
    assert state_dict_sha256(sd) == thesis_meta["weights_sha256"]
    net.load_state_dict(sd, strict=True)
    return net.eval()


def test_thesis_id_loss_feeds_the_whole_image_pooled_to_112(thesis_dir):
    from petra.train.losses import identity_loss
    from petra.generators.stylegan2.parts import arcface_embed, arcface_embed_whole

    name = "thesis_id_loss"
    meta, exp = _fixture(thesis_dir, name)
    net = _arcface(meta)
    y_hat, y = _codes(exp["y_hat_codes"]), _codes(exp["y_codes"])
    with torch.no_grad():
        f_hat, f_y = arcface_embed_whole(net, y_hat), arcface_embed_whole(net, y)
        loss = identity_loss(lambda x: arcface_embed_whole(net, x), y, y_hat)
        cropped = identity_loss(lambda x: arcface_embed(net, x), y, y_hat)
    atol = meta["tolerance_atol"]
    close(f"{name}/feats_y_hat", f_hat, exp["feats_y_hat"], atol, 0)
    close(f"{name}/feats_y", f_y, exp["feats_y"], atol, 0)
    close(f"{name}/loss", loss, exp["loss"], atol, 0)
    close(f"{name}/diff_target", (f_hat * f_y).sum(1), torch.tensor(meta["outputs"]["diff_target"]), atol, 0)
    assert abs(float(cropped) - float(exp["loss"])) > 100 * atol  # pSp's crop would give another value


def test_thesis_crop_rows_55_243_cols_32_220(thesis_dir):
    from petra.train import losses as L

    name = "thesis_crop"
    meta, exp = _fixture(thesis_dir, name)
    y_hat, y = _codes(exp["y_hat_codes"]), _codes(exp["y_codes"])
    w = L.LossWeights(l2=0, lpips=0, id=0, cos=0, l2_crop=1.0, lpips_crop=0)
    terms = L.reconstruction_terms(y_hat, y, w, None, crop=L.RELEASED_CROP)
    close(f"{name}/l2_crop", terms["l2_crop"], exp["l2_crop"], meta["tolerance_atol"], 0)
    assert L.inner_crop(y, L.RELEASED_CROP).shape[-2:] == (188, 188)
    old = L.reconstruction_terms(y_hat, y, w, None, crop=L.PSP_CROP)["l2_crop"]
    assert abs(float(old) - float(exp["l2_crop"])) > 1e-4  # the rows matter


def test_thesis_ranger_seven_steps_with_gradient_centralisation(thesis_dir):
    from petra.train.ranger import RangerGC

    name = "thesis_ranger"
    meta, exp = _fixture(thesis_dir, name)
    atol = meta["tolerance_atol"]

    def run(use_gc: bool) -> list[tuple[torch.Tensor, torch.Tensor]]:
        W = torch.nn.Parameter(exp["W0"].clone())
        b = torch.nn.Parameter(exp["b0"].clone())
        opt = RangerGC([W, b], lr=1e-4, use_gc=use_gc)
        out = []
        for k in range(7):
            W.grad, b.grad = exp["grads_W"][k].clone(), exp["grads_b"][k].clone()
            opt.step()
            out.append((W.detach().clone(), b.detach().clone()))
        return out

    for k, (W, b) in enumerate(run(True), start=1):  # step 6 includes the Lookahead interpolation
        close(f"{name}/W_after_{k}", W, exp[f"W_after_{k}"], atol, 0)
        close(f"{name}/b_after_{k}", b, exp[f"b_after_{k}"], atol, 0)
    W_nogc, b_nogc = run(False)[-1]
    assert (W_nogc - exp["W_after_7"]).abs().max() > 100 * atol  # GC changes W ...
    torch.testing.assert_close(b_nogc, exp["b_after_7"], atol=atol, rtol=0)  # ... but not the 1-D bias
