"""The thesis's released checkpoint (best_model.pt) loads strictly into petra as ``sg2-thesis-released``.

The real file cannot be downloaded here, so the loader is proven on synthetic checkpoints in
exactly its layout: ``{'state_dict': encoder.* | mapping_net.* | decoder.*, 'opts': {...}}``
with the key names and shapes of the released classes (from the fixtures made by running the
released code: ``BackboneEncoderUsingLastLayerIntoWPlus``, ``MappingNetowrk``, and rosinality's
``Generator(1024, 512, 8)`` as the decoder of every pSp/ReStyle checkpoint).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from sg2_smoke_helpers import face_like, smoke_cfg

from petra.errors import PetraError
from petra.models.thesis_net import ThesisTransferNet, load_thesis_checkpoint

torch.set_num_threads(2)
OPTS = {"exp_dir": "exp", "encoder_type": "GradualStyleEncoder", "input_nc": 3, "output_size": 1024, "batch_size": 4,
        "learning_rate": 0.0001, "optim_name": "ranger", "train_decoder": False, "lpips_lambda": 0.05, "id_lambda": 0.3,
        "l2_lambda": 0.0, "lpips_lambda_crop": 0.3, "l2_lambda_crop": 2.0, "cosface_lambda": 0.0,
        "checkpoint_path": None, "max_steps": 500000, "val_interval": 1000, "save_interval": None,
        "device": "cuda:0", "n_styles": 18}  # vars(opts) as coach.__get_save_dict stores them


def released_layout(fixtures_dir: Path) -> dict[str, tuple[list[int], str]]:
    """key -> (shape, dtype) of MypSp.state_dict(), from the fixtures of the released classes."""
    def keys(name: str) -> list[tuple[str, list[int], str]]:
        meta = json.loads((fixtures_dir / name).read_text())
        if "keys" in meta:
            return [(k["key"], k["shape"], k["dtype"]) for k in meta["keys"]]
        return [tuple(k) for k in meta["state_dict_keys"]]

    out = {f"encoder.{k}": (s, d) for k, s, d in keys("thesis_code/thesis_motion_encoder_n18.json")}
    out |= {f"mapping_net.{k}": (s, d) for k, s, d in keys("thesis_code/thesis_mapping_n18.json")}
    out |= {k: (s, d) for k, s, d in keys("restyle_psp_ffhq_full_iterative_1024.json") if k.startswith("decoder.")}
    return out


def cheap_state_dict(layout: dict[str, tuple[list[int], str]]) -> dict[str, torch.Tensor]:
    """Every key a distinct constant, stored as a broadcast view (the 1 GB layout saves in a few kB)."""
    sd = {}
    for i, (k, (shape, dtype)) in enumerate(sorted(layout.items())):
        if dtype == "int64":
            sd[k] = torch.tensor(i, dtype=torch.int64).reshape(shape)
        else:
            sd[k] = torch.full((1,), 1e-3 * (i + 1)).reshape([1] * len(shape)).expand(shape)
    return sd


def test_thesis_released_checkpoint_loads_strictly_in_the_released_layout(fixtures_dir, tmp_path):
    layout = released_layout(fixtures_dir)
    net = ThesisTransferNet(1024)
    assert {k: (list(v.shape), str(v.dtype).replace("torch.", "")) for k, v in net.state_dict().items()} == layout
    sd = cheap_state_dict(layout)
    path = tmp_path / "best_model.pt"
    torch.save({"state_dict": sd, "opts": OPTS}, path)
    loaded, opts = load_thesis_checkpoint(path)
    assert opts["output_size"] == 1024 and not loaded.training
    got = loaded.state_dict()
    for k in sd:  # every part received its own tensors
        assert torch.equal(got[k], sd[k].expand_as(got[k])), k
    assert loaded.decoder.size == 1024 and loaded.encoder.n_styles == 18

    missing = {k: v for k, v in sd.items() if k != "mapping_net.linear_relu.0.bias"}
    torch.save({"state_dict": missing, "opts": OPTS}, tmp_path / "short.pt")
    with pytest.raises(PetraError, match=r"short\.pt.*mapping_net\.linear_relu\.0\.bias"):
        load_thesis_checkpoint(tmp_path / "short.pt")


def test_thesis_released_checkpoint_with_foreign_objects_is_refused(tmp_path):
    torch.save({"state_dict": {}, "opts": OPTS, "extra": np.dtype("float32")}, tmp_path / "odd.pt")
    with pytest.raises(PetraError, match="odd.pt.*weights_only"):
        load_thesis_checkpoint(tmp_path / "odd.pt")
    torch.save({"encoder": {}}, tmp_path / "other.pt")
    with pytest.raises(PetraError, match="other.pt.*state_dict"):
        load_thesis_checkpoint(tmp_path / "other.pt")


def test_thesis_released_method_drives_a_target_from_a_small_synthetic_checkpoint(tmp_path_factory, tmp_path):
    """The same layout at the smoke generator's 64 px (n_styles 10), recipe weights, through the method."""
    from petra import generators
    from petra.models.recipe import STYLEGAN2_OVERRIDES, recipe_state_dict

    cfg = smoke_cfg(tmp_path_factory, ("generator", "restyle_psp"))
    cfg = {**cfg, "align": {**cfg["align"], "size": 64}}
    net = ThesisTransferNet(64)
    sd = recipe_state_dict(net.state_dict(), STYLEGAN2_OVERRIDES)
    path = tmp_path / "best_model.pt"
    torch.save({"state_dict": sd, "opts": {**OPTS, "output_size": 64, "n_styles": 10}}, path)
    method = generators.parse("sg2-thesis-released", cfg)
    assert method.kind == "pretrained"
    re = generators.create(method, cfg, checkpoint=path)
    re.set_target(face_like(64, 3))
    a, b = re.drive(face_like(64, 1, mouth=0.1)), re.drive(face_like(64, 2, mouth=0.7))
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, re.drive(face_like(64, 1, mouth=0.1)))  # fixed noise: same input, same output
    assert np.abs(a.astype(int) - b).mean() > 1.0  # the driving frame moves the output
    with pytest.raises(PetraError, match="stylegan2.size"):
        generators.create(method, {**cfg, "stylegan2": {**cfg["stylegan2"], "size": 256}}, checkpoint=path)


def test_thesis_released_method_is_evaluated_when_its_weight_file_is_present(tmp_path):
    import petra.config
    from petra import generators, weights

    cfg = petra.config.load(Path(__file__).resolve().parents[1] / "params.yaml", "voxceleb2")
    cfg = {**cfg, "paths": {**cfg["paths"], "models": str(tmp_path)}, "evaluate": {**cfg["evaluate"], "methods": None}}
    assert "sg2-thesis-released" not in generators.evaluated_methods(cfg)
    assert {"sg2-ours", "sg2-ours-text", "sg2-baseline-psp"} <= set(generators.evaluated_methods(cfg))
    dest = weights.destination(cfg, "thesis_released")
    assert dest == tmp_path / "weights" / "best_model.pt"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"placeholder")
    assert "sg2-thesis-released" in generators.evaluated_methods(cfg)
    with pytest.raises(PetraError, match="best_model.pt"):  # present but not a checkpoint: one line naming it
        generators.create("sg2-thesis-released", cfg)
