"""Thesis evaluator backends load their weights through the registry, or say clearly what is missing."""
from __future__ import annotations

import pytest

from petra import config
from petra.errors import MissingWeightsError, PetraError


@pytest.fixture()
def empty_models_cfg(tmp_path):
    cfg = config.load()
    cfg["paths"] = {**cfg["paths"], "models": str(tmp_path / "models")}
    return cfg


@pytest.mark.parametrize(("module", "backend", "filename", "source"), [
    ("pose", "hopenet", "hopenet_robust_alpha1.pkl", "deep-head-pose"),
    ("identity", "arcface", "model_ir_se50.pth", "http"),
    ("action_units", "opengraphau", "OpenGprahAU-ResNet50_first_stage.pth", "OpenGraphAU"),
])
def test_missing_thesis_weights_name_the_file_and_where_it_comes_from(empty_models_cfg, module, backend, filename,
                                                                      source):
    import importlib

    create = importlib.import_module(f"petra.evaluate.{module}").create
    with pytest.raises(MissingWeightsError) as err:
        create(backend, empty_models_cfg)
    msg = str(err.value)
    assert filename in msg and source in msg and "\n" not in msg


def test_offline_backends_build_and_unknown_names_fail(empty_models_cfg):
    from petra.evaluate import action_units, identity, landmarks, pose

    assert pose.create("mesh", empty_models_cfg).backend == "mesh"
    assert landmarks.create("dlib").backend == "dlib"
    assert identity.create("dlib", empty_models_cfg).backend == "dlib"
    assert action_units.create("geom", empty_models_cfg).names[0].startswith("au04")
    assert action_units.create("none", empty_models_cfg) is None
    with pytest.raises(ValueError):
        pose.create("nope", empty_models_cfg)


def test_arcface_backend_embeds_with_psp_preprocessing_when_weights_exist(empty_models_cfg, tmp_path):
    """A registry-shaped weight file (random init, sha recorded) loads and gives unit-norm 512-d embeddings."""
    import numpy as np
    import torch

    from petra import weights
    from petra.evaluate.identity import ArcFaceIRSE50
    from petra.models.arcface_irse50 import Backbone

    torch.manual_seed(0)
    torch.set_num_threads(1)
    dest = weights.destination(empty_models_cfg, "irse50_arcface")
    dest.parent.mkdir(parents=True)
    torch.save(Backbone(50, 0.6, "ir_se").eval().state_dict(), dest)
    entry = weights.entry("irse50_arcface")
    if entry.sha256:  # the real file's sha would not match: the loader must refuse it
        with pytest.raises(PetraError):
            ArcFaceIRSE50(empty_models_cfg)(np.zeros((256, 256, 3), np.uint8), None)
        return
    emb = ArcFaceIRSE50(empty_models_cfg)(np.full((256, 256, 3), 128, np.uint8), None)
    assert emb.shape == (512,) and abs(np.linalg.norm(emb) - 1) < 1e-6


def test_fan_landmarks_say_which_runtime_download_is_missing(empty_models_cfg):
    from petra import weights
    from petra.evaluate.landmarks import create

    if weights.present(empty_models_cfg, "fan_2d") and weights.present(empty_models_cfg, "fan_s3fd"):
        pytest.skip("FAN weights are cached on this machine")
    with pytest.raises(MissingWeightsError, match=r"adrianbulat\.com"):
        create("fan", empty_models_cfg)


def test_opengraphau_backend_loads_a_released_format_checkpoint_and_scores_crops(empty_models_cfg):
    """A checkpoint shaped like OpenGprahAU-ResNet18_first_stage.pth (random recipe weights) at the
    registry's destination → 41 AU probabilities per crop, deterministic, different for other faces."""
    import numpy as np
    import torch

    from petra import weights
    from petra.evaluate.action_units import OPENGRAPHAU_NAMES, create
    from petra.models.opengraphau import MEFARG
    from petra.models.recipe import recipe_state_dict

    torch.set_num_threads(1)
    cfg = {**empty_models_cfg, "evaluate": {**empty_models_cfg["evaluate"], "opengraphau": {"backbone": "resnet18"}}}
    dest = weights.destination(cfg, "opengraphau_resnet18")
    dest.parent.mkdir(parents=True)
    sd = recipe_state_dict(MEFARG(backbone="resnet18").state_dict())
    torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in sd.items()}}, dest)
    au = create("opengraphau", cfg)
    assert au.backend == "opengraphau" and len(au.names) == 41 and OPENGRAPHAU_NAMES[0] == "au1"
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(2))
    pa, pb = au(a, None), au(b, None)
    assert pa.shape == (41,) and np.all(np.abs(pa) <= 1.0 + 1e-6)  # cosine similarities
    np.testing.assert_array_equal(pa, au(a.copy(), None))
    assert np.abs(pa - pb).max() > 1e-4
    with pytest.raises(PetraError, match="resnet50"):  # the configured backbone must match the file
        from petra.models.opengraphau import load_opengraphau

        load_opengraphau(str(dest), backbone="resnet50")
