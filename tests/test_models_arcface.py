"""IR-SE50 ArcFace + pSp IDLoss preprocessing reproduce TreB1eN / pSp."""
from __future__ import annotations

import torch
from zoo_fixtures import close, fill_like_fixture, image_input, load_fixture, tol

from petra.models.arcface_irse50 import Backbone, IDLoss, extract_feats


def test_arcface_embeddings_id_feats_and_loss_match_official(fixtures_dir):
    torch.set_num_threads(2)
    name = "irse50_arcface"
    meta, exp = load_fixture(fixtures_dir, name)
    net = Backbone(50, 0.6, "ir_se").eval()
    fill_like_fixture(net, meta)
    x = image_input(exp)
    y_hat, y = image_input(exp, "id_y_hat_uint8"), image_input(exp, "id_y_uint8")
    with torch.no_grad():
        emb = net(x)
        pre = net.embed_unnormalised(x)
        f_yhat, f_y = extract_feats(net, y_hat), extract_feats(net, y)
        loss, improvement = IDLoss(net)(y_hat, y, y)
    atol, rtol = tol(meta, "embedding/id_feats")
    close(f"{name}/embedding", emb, exp["embedding"], atol, rtol)
    close(f"{name}/pre_l2norm", pre, exp["pre_l2norm"], *tol(meta, "pre_l2norm"))
    close(f"{name}/id_feats_y_hat", f_yhat, exp["id_feats_y_hat"], atol, rtol)
    close(f"{name}/id_feats_y", f_y, exp["id_feats_y"], atol, rtol)
    close(f"{name}/id_loss", loss, exp["id_loss"], *tol(meta, "id_loss"))
    assert abs(improvement - float(exp["id_sim_improvement"])) < 1e-5
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(2))


def test_idloss_keeps_facenet_frozen_in_train_mode(fixtures_dir):
    net = Backbone(50, 0.6, "ir_se")
    IDLoss(net).train()
    assert not net.training and not any(p.requires_grad for p in net.parameters())
