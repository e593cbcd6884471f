"""`petra transfer` (images, video with audio, error paths) and the mesh Reenactors."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from petra.cli import main as petra_main
from petra.media import read_image


@pytest.fixture(scope="module")
def target(sample_root):
    return sample_root / "images" / "EAMM_anne.jpg"


@pytest.fixture(scope="module")
def driving_image(sample_root):
    return sample_root / "images" / "SadTalker_happy.jpg"


def _err(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("petra transfer: error")]
    assert len(lines) == 1, lines
    return lines[0]


def test_missing_target_is_one_line_naming_the_file(tmp_path, driving_image, capsys):
    rc = petra_main(["transfer", "--target", str(tmp_path / "nope.jpg"), "--driving", str(driving_image),
                     "--out", str(tmp_path / "o.png")])
    assert rc == 2
    line = _err(capsys)
    assert "nope.jpg" in line and "file not found" in line
    assert not (tmp_path / "o.png").exists()


def test_not_an_image_is_rejected(tmp_path, driving_image, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture\n" * 20)
    rc = petra_main(["transfer", "--target", str(bad), "--driving", str(driving_image), "--out", str(tmp_path / "o.png")])
    assert rc == 2
    line = _err(capsys)
    assert "notes.png" in line and "not a readable image" in line


def test_no_face_in_driving_is_rejected(tmp_path, target, capsys):
    import cv2

    noface = tmp_path / "wall.png"
    rng = np.random.default_rng(0)
    cv2.imwrite(str(noface), cv2.GaussianBlur(rng.integers(0, 255, (300, 300, 3), dtype=np.uint8), (31, 31), 8))
    rc = petra_main(["transfer", "--target", str(target), "--driving", str(noface), "--out", str(tmp_path / "o.png")])
    assert rc == 2
    line = _err(capsys)
    assert "wall.png" in line and "no face" in line


def test_video_driving_needs_video_output(tmp_path, target, sample_root, capsys):
    clip = sample_root / "videos" / "id0002" / "LivePortrait_d1.mp4"
    rc = petra_main(["transfer", "--target", str(target), "--driving", str(clip), "--out", str(tmp_path / "o.png")])
    assert rc == 2
    assert "o.png" in _err(capsys)


def test_image_transfer_pastes_back_or_writes_the_crop(tmp_path, target, driving_image):
    full = tmp_path / "full.png"
    crop = tmp_path / "crop.jpg"
    assert petra_main(["transfer", "--target", str(target), "--driving", str(driving_image), "--out", str(full)]) == 0
    assert petra_main(["transfer", "--target", str(target), "--driving", str(driving_image), "--out", str(crop),
                       "--size", "512", "--no-paste-back", "--mode", "absolute"]) == 0
    src = read_image(target)
    out = read_image(full)
    assert out.shape == src.shape
    diff = np.abs(out.astype(int) - src).sum(2)
    assert (diff > 20).mean() > 0.002  # the face changed ...
    for corner in (diff[:8, :8], diff[:8, -8:], diff[-8:, :8], diff[-8:, -8:]):
        assert corner.mean() < 2.0  # ... the corners of the photo (hardly) did not
    assert read_image(crop).shape == (512, 512, 3)


def test_video_transfer_streams_frames_and_keeps_audio(tmp_path, target, sample_root):
    from petra.video import ffmpeg_exe, probe

    clip = sample_root / "videos" / "id0002" / "LivePortrait_d1.mp4"
    with_audio = tmp_path / "driving.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(clip), "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=2", "-shortest", "-c:v", "copy", "-c:a", "aac", str(with_audio)],
                   check=True)
    out = tmp_path / "out.mp4"
    assert petra_main(["transfer", "--target", str(target), "--driving", str(with_audio), "--out", str(out),
                       "--no-paste-back"]) == 0
    src, got = probe(with_audio), probe(out)
    assert got.has_audio and got.size == (256, 256)
    assert abs(got.duration - src.duration) < 0.15
    assert abs(got.fps - src.fps) < 0.5


@pytest.mark.parametrize("name", ["mesh-relative", "mesh-absolute"])
def test_mesh_reenactors_follow_the_protocol(name, sample_root):
    from petra.config import load
    from petra.data.ffhq import align_face
    from petra.geometry.canonical import DLIB68_FROM_MESH
    from petra.geometry.facemesh import detect_mesh
    from petra.generators import create
    from petra.video import iter_frames

    def crop(img):
        return align_face(img, detect_mesh(img)[DLIB68_FROM_MESH, :2], 256).image

    tgt = crop(read_image(sample_root / "images" / "LivePortrait_s0.jpg"))
    frames = [crop(f) for _, f in iter_frames(sample_root / "videos" / "id0042" / "spectre_M024_level_2_surprised_010.mp4",
                                             interval_s=1.0, max_frames=4)]
    m = create(name, load())
    assert m.name == name
    m.set_target(tgt)
    m.set_reference(frames[0])
    outs = [m.drive(f) for f in frames]
    assert all(o.shape == tgt.shape and o.dtype == np.uint8 for o in outs)
    if name == "mesh-relative":  # the reference frame maps to the target as it is
        assert np.abs(outs[0].astype(int) - tgt).mean() < 1.0
    assert max(np.abs(o.astype(int) - tgt).mean() for o in outs[1:]) > 1.0  # later frames move it
    assert np.array_equal(m.drive(np.full_like(tgt, 128)), tgt)  # no face: the target, unchanged


def _refine_checkpoint(path, brightness: float):
    """A mesh-ours-gen training checkpoint (the shared loop's format and sha256 sidecar) whose
    refinement net shifts the colours by ``brightness`` (0 = the hand-made result)."""
    import torch

    from petra.generators.mesh.refine.condition import INPUTS
    from petra.generators.mesh.refine.net import RefineNet
    from petra.train.checkpoint import save_checkpoint

    net = RefineNet(8)
    with torch.no_grad():
        net.out[0].bias[:3] = brightness
    return save_checkpoint(path, {"R": net.state_dict(), "meta": {"inputs": INPUTS}}, {"method": "mesh-ours-gen"},
                           step=7)


def test_transfer_runs_a_checkpoint_from_the_mlflow_model_registry(tmp_path, monkeypatch, target, driving_image, capsys):
    """`--method models:/NAME/VERSION|latest` downloads the registered checkpoint (sha256-checked) and runs
    it as method NAME: exactly what that checkpoint gives when passed directly; a pinned version stays put."""
    from petra import tracking
    from petra.config import load
    from petra.stages.transfer import _transfer

    monkeypatch.chdir(tmp_path)  # mlruns/ (the artifact store) under tmp_path
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    ckpts = [_refine_checkpoint(tmp_path / "train" / f"ckpt-{k}.pt", b) for k, b in ((1, 0.4), (2, -0.4))]
    for ckpt in ckpts:
        run = tracking.log_run("petra-test-train", "train mesh-ours-gen", tags={"petra.stage": "train"})
        tracking.register_checkpoint("mesh-ours-gen", run, ckpt, {"select_val_l1": 0.1, "step": 7})
    args = ["transfer", "--target", str(target), "--driving", str(driving_image), "--no-paste-back"]
    outs = {}
    for ref in ("1", "latest"):
        out = tmp_path / f"reg-{ref}.png"
        assert petra_main([*args, "--out", str(out), "--method", f"models:/mesh-ours-gen/{ref}"]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert summary["method"] == "mesh-ours-gen"
        assert summary["model"] == f"models:/mesh-ours-gen/{1 if ref == '1' else 2}"
        outs[ref] = read_image(out).astype(int)
    direct = tmp_path / "direct-1.png"
    _transfer(load(), target, driving_image, direct, "mesh-ours-gen", ckpts[0], mode=None, size=None,
              paste_back=False, expression_scale=None, face_index=None, driving_face_index=None, strict=False)
    assert np.array_equal(outs["1"], read_image(direct))  # the registry gave exactly checkpoint 1
    assert outs["1"].mean() > outs["latest"].mean() + 10  # latest = version 2, the darkening one
    assert not list(tmp_path.glob("petra-model-*"))  # nothing left beside the outputs


def test_transfer_refuses_unknown_or_tampered_registry_models_in_one_line(tmp_path, monkeypatch, target,
                                                                          driving_image, capsys):
    from petra import tracking

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    ckpt = _refine_checkpoint(tmp_path / "train" / "ckpt.pt", 0.2)
    run = tracking.log_run("petra-test-train", "train mesh-ours-gen")
    tracking.register_checkpoint("mesh-ours-gen", run, ckpt, {"step": 7})
    args = ["transfer", "--target", str(target), "--driving", str(driving_image), "--out", str(tmp_path / "o.png")]
    assert petra_main([*args, "--method", "models:/mesh-nothing/latest"]) == 2
    assert "models:/mesh-nothing/latest" in _err(capsys)
    assert petra_main([*args, "--method", "models:/mesh-ours-gen/9"]) == 2
    assert "models:/mesh-ours-gen/9" in _err(capsys)
    stored = next((tmp_path / "mlruns").rglob("selected/ckpt.pt"))
    stored.write_bytes(stored.read_bytes()[:-16] + bytes(16))  # the registered file is replaced
    assert petra_main([*args, "--method", "models:/mesh-ours-gen/1"]) == 2
    assert "sha256" in _err(capsys)
    assert not (tmp_path / "o.png").exists()
