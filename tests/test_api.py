"""The Python API (`from petra import Animator`): frame-by-frame animation, neutral re-capture."""
from __future__ import annotations

import numpy as np
import pytest

from petra.errors import InputError


@pytest.fixture(scope="module")
def clip(sample_root):
    from petra.video import iter_frames

    return [f for _, f in iter_frames(sample_root / "videos" / "id0002" / "LivePortrait_d1.mp4")]


@pytest.fixture(scope="module")
def target(sample_root):
    return sample_root / "images" / "EAMM_anne.jpg"


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b).mean())


def test_animator_follows_the_driver_and_recapture_resets_the_neutral(clip, target):
    from petra import Animator

    with Animator(target) as anim:
        assert anim.mode == "relative"
        outs = []
        for i, frame in enumerate(clip):
            if i == 8:
                anim.recapture()
            outs.append(anim.animate(frame, i / 30))
        assert anim.face_found and anim.fps > 0
    d = [_diff(o, anim.target) for o in outs]
    assert outs[0].shape == anim.target.shape  # pasted back into the full photo
    assert d[0] < 0.5  # the first face is the neutral reference: the target as it is
    assert d[7] > 3 * d[0] + 1.0  # the driver moved away from it ...
    assert d[8] < 0.6 * d[7]  # ... and the re-captured neutral brings the target back
    assert max(d[9:]) > d[8]


def test_frames_without_a_face_show_the_target_until_one_appears(clip, target):
    from petra import Animator

    blank = np.full_like(clip[0], 90)
    with Animator(target, size=512, paste_back=False) as anim:
        first = anim.animate(blank)
        assert not anim.face_found
        moved = [anim.animate(f) for f in clip[:6]]
        assert anim.face_found
    assert first.shape == (512, 512, 3) and moved[-1].shape == (512, 512, 3)


def test_a_registry_method_runs_on_aligned_crops(clip, target):
    from petra import Animator

    with Animator(target, method="copy-driving") as anim:
        out = anim.animate(clip[3])
    assert out.shape[:2] == (anim.cfg["align"]["size"],) * 2
    # copy-driving returns the aligned driving crop: it is not the target's crop
    with Animator(target, method="copy-target") as same:
        tgt = same.animate(clip[3])
    assert _diff(out, tgt) > 10


def test_a_target_without_a_face_is_one_error_naming_it(tmp_path):
    import cv2

    from petra import Animator

    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(InputError, match="wall.png"):
        Animator(wall)


def test_a_crop_method_sees_the_same_aligned_crops_in_the_api_and_in_petra_transfer(sample_root, target, tmp_path):
    """One alignment for crop methods (stages.transfer.CropReenactor): copy-driving (the aligned driving
    crop) through ``petra transfer`` without paste-back is the crop the Animator returns for that image."""
    from petra import Animator
    from petra.config import load
    from petra.media import read_image
    from petra.stages.transfer import run_transfer

    cfg = load()
    driving = sample_root / "images" / "SadTalker_happy.jpg"
    out = tmp_path / "crop.png"
    run_transfer(cfg, target, driving, out, method="copy-driving", paste_back=False, size=cfg["align"]["size"])
    with Animator(target, method="copy-driving", params=cfg) as anim:
        crop = anim.animate(read_image(driving))
    assert read_image(out).shape == crop.shape
    assert _diff(read_image(out), crop) < 1.0, _diff(read_image(out), crop)
