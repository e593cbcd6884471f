"""HopeNet reproduces deep-head-pose logits/degrees; its backend preprocesses like the official test."""
from __future__ import annotations

import numpy as np
import torch
from zoo_fixtures import close, fill_like_fixture, image_input, load_fixture, tol

from petra.models.hopenet import Hopenet, logits_to_degrees, preprocess


def test_hopenet_logits_and_degrees_match_official(fixtures_dir):
    torch.set_num_threads(2)
    meta, exp = load_fixture(fixtures_dir, "hopenet")
    net = Hopenet().eval()
    fill_like_fixture(net, meta)
    codes = exp["input_uint8"].float()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    cases = {"": image_input(exp), "imnet_": (codes / 255.0 - mean) / std}
    for prefix, x in cases.items():
        with torch.no_grad():
            outs = net(x)
        for axis, logits in zip(("yaw", "pitch", "roll"), outs):
            close(f"hopenet/{prefix}{axis}_logits", logits, exp[f"{prefix}{axis}_logits"], *tol(meta, "logits"))
            close(f"hopenet/{prefix}{axis}_deg", logits_to_degrees(logits), exp[f"{prefix}{axis}_deg"],
                  *tol(meta, "degrees"))


def test_degrees_are_the_softmax_expectation_over_3_degree_bins():
    peaked = torch.full((1, 66), -1e4)
    peaked[0, 33] = 0.0  # all mass on bin 33 -> 33*3-99 = 0 degrees
    assert float(logits_to_degrees(peaked)) == 0.0
    two = torch.full((1, 66), -1e4)
    two[0, [0, 65]] = 0.0  # half on -99, half on 96 -> -1.5
    assert abs(float(logits_to_degrees(two)) + 1.5) < 1e-4


def test_preprocess_matches_official_torchvision_transform():
    import torchvision.transforms as T
    from PIL import Image

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (300, 260, 3), dtype=np.uint8)
    official = T.Compose([T.Resize(224), T.CenterCrop(224), T.ToTensor(),
                          T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])(Image.fromarray(rgb))
    ours = preprocess(rgb)[0]
    assert ours.shape == (3, 224, 224)
    torch.testing.assert_close(ours, official, atol=1e-5, rtol=0)


def test_pose_backend_returns_headpose_in_petra_signs():
    """estimate() = (-yaw, pitch, -roll) of the raw HopeNet angles, as a geometry HeadPose."""
    from petra.geometry.headpose import HeadPose
    from petra.geometry.headpose import HopeNetPoseEstimator
    from petra.models.recipe import fill_module

    torch.manual_seed(0)
    est = HopeNetPoseEstimator("unused", model=fill_module(Hopenet()))
    rgb = np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    yaw, pitch, roll = est.angles(rgb)
    pose = est.estimate(rgb)
    assert isinstance(pose, HeadPose) and pose.backend == "hopenet"
    assert (pose.yaw, pose.pitch, pose.roll) == (-yaw, pitch, -roll)
    assert max(abs(yaw), abs(pitch), abs(roll)) <= 99
