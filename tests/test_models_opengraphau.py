"""OpenGraphAU stage 1 reproduces the official ANFL code; released checkpoints load through the real loader.

The fixtures in tests/fixtures/opengraphau come from the official
CVI-SZU/ME-GraphAU OpenGraphAU/model code run with the ../shared/fixtures weight recipe
(see tests/fixtures/opengraphau/README.md); they hold only inputs and outputs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from zoo_fixtures import close, fill_like_fixture, load_fixture, tol

from petra.errors import PetraError
from petra.models.opengraphau import (
    AU_CODES,
    MEFARG,
    convert_state_dict,
    load_opengraphau,
    preprocess,
)

OWN_FIXTURES = Path(__file__).parent / "fixtures" / "opengraphau"
IMNET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMNET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@pytest.fixture(scope="module", params=["resnet18", "resnet50"])
def official(request):
    torch.set_num_threads(2)
    meta, exp = load_fixture(OWN_FIXTURES, f"opengraphau_{request.param}_stage1")
    net = MEFARG(backbone=request.param).eval()
    sd = fill_like_fixture(net, meta)  # keys + shapes = the official model's; recipe sha256 checked
    return request.param, meta, exp, net, sd


def test_probabilities_match_official_code(official):
    arch, meta, exp, net, _ = official
    x = (exp["input_uint8"].float() / 255.0 - IMNET_MEAN) / IMNET_STD
    with torch.no_grad():
        close(f"opengraphau_{arch}/global_linear", net.global_linear(net.tokens(x)), exp["global_linear_out"],
              *tol(meta, "features"))
        probs = net(x)
    assert probs.shape == (2, len(AU_CODES)) == (2, 41)
    close(f"opengraphau_{arch}/probs", probs, exp["probs_imagenet"], *tol(meta, "probs"))
    # the two images differ, and so must their AU vectors (the check above is not vacuous)
    assert float((probs[0] - probs[1]).abs().max()) > 10 * tol(meta, "probs")[0]


def test_preprocessing_matches_official_image_eval(official):
    arch, meta, exp, net, _ = official
    rect = exp["rect_uint8"].numpy()  # 300 x 260, not square: Resize(256) then CenterCrop(224)
    ours = preprocess(rect)
    close("opengraphau/preprocess_rect", ours[0], exp["rect_preprocessed"], *tol(meta, "preprocessed"))
    with torch.no_grad():
        close(f"opengraphau_{arch}/probs_rect", net(ours), exp["probs_rect"], *tol(meta, "probs"))


def test_real_face_crop_matches_official(official, shared_dir):
    from PIL import Image

    arch, meta, exp, net, _ = official
    name = meta["input_recipe"].split("ffhq_align/expected/")[1].split(" ")[0]
    face = np.asarray(Image.open(shared_dir / "fixtures" / "ffhq_align" / "expected" / name).convert("RGB"))
    x = preprocess(face)
    close("opengraphau/face_channel_means", x[0].mean(dim=(1, 2)), exp["face_preprocessed_mean_per_channel"], 1e-5, 0)
    with torch.no_grad():
        close(f"opengraphau_{arch}/probs_face", net(x), exp["probs_face"], *tol(meta, "probs"))


def test_released_checkpoint_format_loads_strictly(official, tmp_path):
    """As train_stage1.py saves it: {'epoch', 'state_dict' of the DataParallel net ('module.' prefixes),
    'optimizer': AdamW state} → the same network through weights_only loading; sha256 checked."""
    from petra.weights import sha256_file

    arch, meta, exp, _net, sd = official
    path = tmp_path / f"OpenGprahAU-{arch}_first_stage.pth"
    head = torch.nn.Linear(4, 2)  # a real AdamW state (tensors, betas tuple, flags) without a full-size step
    opt = torch.optim.AdamW(head.parameters(), lr=2e-5, weight_decay=5e-4)
    head(torch.ones(1, 4)).sum().backward()
    opt.step()
    torch.save({"epoch": 19, "state_dict": {f"module.{k}": v for k, v in sd.items()}, "optimizer": opt.state_dict()}, path)
    loaded = load_opengraphau(str(path), sha256=sha256_file(path), backbone=arch)
    x = (exp["input_uint8"].float() / 255.0 - IMNET_MEAN) / IMNET_STD
    with torch.no_grad():
        close(f"opengraphau_{arch}/probs_via_loader", loaded(x), exp["probs_imagenet"], *tol(meta, "probs"))
    with pytest.raises(PetraError, match="sha256"):
        load_opengraphau(str(path), sha256="0" * 64, backbone=arch)
    other = "resnet50" if arch == "resnet18" else "resnet18"
    with pytest.raises(PetraError, match=rf"{path.name}.*not an OpenGraphAU {other} stage-1 checkpoint"):
        load_opengraphau(str(path), backbone=other)


def test_state_dict_conversion_keeps_bare_dicts_and_drops_non_tensors():
    t = torch.zeros(1)
    assert convert_state_dict({"module.a.b": t, "c": t}) == {"a.b": t, "c": t}
    assert convert_state_dict({"state_dict": {"module.x": t}, "epoch": 3}) == {"x": t}


def test_graph_normalisation_is_symmetric_degree_scaling():
    """D^-1/2 A D^-1/2 by hand for a 3-node graph with out-degrees 2, 1, 3."""
    from petra.models.opengraphau import normalize_digraph

    a = torch.tensor([[[1.0, 1, 0], [0, 1, 0], [1, 1, 1]]])
    d = torch.tensor([2.0, 1.0, 3.0]) ** -0.5
    expected = torch.tensor([[[d[0] * d[0], d[0] * d[1], 0], [0, d[1] * d[1], 0], [d[2] * d[0], d[2] * d[1], d[2] * d[2]]]])
    torch.testing.assert_close(normalize_digraph(a), expected)
