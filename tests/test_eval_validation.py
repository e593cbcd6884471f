"""Evaluator validation (docs/evaluation.md §Validation): pose on rendered rotations and
mirrored frames, dlib-CSIM same/different-identity AUC, landmark ratios on open/closed
eyes and mouths. Frames come from the sample clips; times of open/closed frames were
picked by eye (see the docstrings) and the tests check the ratios agree."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


def _aligned(frame: np.ndarray) -> np.ndarray:
    from petra.data.ffhq import align_face
    from petra.data.landmarks import Landmarker

    return align_face(frame, Landmarker(upsample=0)(frame), 256).image


@pytest.fixture(scope="module")
def pose_fn():
    from petra.evaluate.pose import create

    return create("mesh", {})


@pytest.fixture(scope="module")
def frontal_crop(sample_root: Path) -> np.ndarray:
    from petra.evaluate.validate import sample_frames

    return _aligned(sample_frames(sample_root / "videos/id0005/LivePortrait_d5.mp4", [0.0])[0])


def test_mesh_pose_recovers_known_rotations_of_a_rendered_face(pose_fn, frontal_crop):
    from petra.evaluate.validate import ROTATIONS, face_model, rotation_errors

    model = face_model(frontal_crop)
    poses = ROTATIONS
    err = rotation_errors(pose_fn, model, poses)
    assert np.isfinite(err).all(), "the estimator lost the rendered face"
    # measured: max 5.4° (yaw −30), mean |err| 1.1°
    assert np.abs(err).max() < 8.0
    assert np.abs(err).mean() < 3.0
    # and it orders them: a wrong sign on any axis would give errors of 2×angle
    est_yaw = np.array([p[0] for p in poses]) + err[:, 0]
    assert np.all(np.diff(est_yaw[:4]) > 5)


def test_mesh_pose_negates_yaw_on_a_mirrored_frame(pose_fn, sample_root: Path):
    from petra.evaluate.validate import (
        face_model,
        flip_yaw_sums,
        render_pose,
        sample_frames,
    )

    turned = [_aligned(f) for f in sample_frames(sample_root / "videos/id0011/LivePortrait_d11.mp4", [0.5, 3.0, 6.0])]
    # plus a face turned by a known amount, so the test cannot pass on frontal faces alone
    model = face_model(_aligned(sample_frames(sample_root / "videos/id0005/LivePortrait_d5.mp4", [0.0])[0]))
    turned.append(render_pose(model, 25, 0, 0))
    rows = flip_yaw_sums(pose_fn, turned)
    assert len(rows) == len(turned)
    assert np.abs(rows[:, 1]).max() > 15, "no clearly turned face among the test frames"
    assert np.abs(rows[:, 0]).max() < 4.0  # yaw(img) + yaw(mirror) ≈ 0
    assert np.all(np.sign(rows[np.abs(rows[:, 1]) > 5, 1]) != np.sign(rows[np.abs(rows[:, 1]) > 5, 2]))


def test_dlib_csim_separates_same_from_different_identities(sample_root: Path):
    from petra.evaluate.identity import DlibResnet
    from petra.evaluate.landmarks import Dlib68
    from petra.evaluate.validate import (
        ID_CLIPS,
        ID_TIMES,
        aligned_crops,
        identity_auc,
        same_different_scores,
    )

    lm, net = Dlib68(), DlibResnet()
    embs, ids = [], []
    for clip in ID_CLIPS:  # 18 clips of 14 identities, 2 frames each
        for crop in aligned_crops(sample_root / "videos" / clip, ID_TIMES):
            embs.append(net(crop, lm(crop)))
            ids.append(clip.split("/")[0])
    pos, neg = same_different_scores(np.stack(embs), ids)
    assert len(pos) >= 20 and len(neg) >= 200
    auc = identity_auc(np.stack(embs), ids)
    assert auc >= 0.95, f"dlib-CSIM AUC {auc:.3f}"
    assert np.median(pos) > np.median(neg) + 0.05


def test_eye_aspect_ratio_drops_when_the_eyes_close(sample_root: Path):
    """id0002 (LivePortrait d1, 'blink'): eyes open at 0.0 s, closed at 0.2 s (checked by eye)."""
    from petra.evaluate.landmarks import Dlib68
    from petra.evaluate.ratios import RATIO_NAMES, landmark_ratios
    from petra.evaluate.validate import sample_frames

    lm = Dlib68()
    open_, closed = (landmark_ratios(lm(_aligned(f))) for f in
                     sample_frames(sample_root / "videos/id0002/LivePortrait_d1.mp4", [0.0, 0.2]))
    for name in ("ear_right", "ear_left"):
        i = RATIO_NAMES.index(name)
        assert closed[i] < 0.6 * open_[i], (name, open_[i], closed[i])
    i = RATIO_NAMES.index("mar")
    assert abs(closed[i] - open_[i]) < 0.05  # the mouth did not move


def test_mouth_aspect_ratio_rises_when_the_mouth_opens(sample_root: Path):
    """id0001 (LivePortrait d0, 'strong expressions'): mouth closed at 0.44 s, open (teeth) at 1.92 s."""
    from petra.evaluate.landmarks import Dlib68
    from petra.evaluate.ratios import RATIO_NAMES, landmark_ratios
    from petra.evaluate.validate import sample_frames

    lm = Dlib68()
    closed, open_ = (landmark_ratios(lm(_aligned(f))) for f in
                     sample_frames(sample_root / "videos/id0001/LivePortrait_d0.mp4", [0.44, 1.92]))
    i = RATIO_NAMES.index("mar")
    assert open_[i] > closed[i] + 0.15, (closed[i], open_[i])
