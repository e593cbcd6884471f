"""Head pose from the face mesh: known rotations, flip symmetry, backends, no face."""
from __future__ import annotations

import numpy as np
import pytest

from petra.errors import MissingWeightsError, NoFaceError
from petra.geometry.frame import (
    Similarity,
    euler_to_rotation,
    fit_similarity,
    rotation_to_euler,
)
from petra.geometry.headpose import (
    HeadPose,
    MeshPoseEstimator,
    get_head_pose_estimator,
    pose_from_mesh,
)
from petra.media import read_image

IMAGES = ["LivePortrait_s0.jpg", "EAMM_anne.jpg", "LivePortrait_s10.jpg", "LivePortrait_d12.jpg"]


@pytest.fixture(scope="module")
def estimator() -> MeshPoseEstimator:
    return MeshPoseEstimator()


@pytest.fixture(scope="module")
def real_mesh(sample_root):
    from petra.geometry.facemesh import detect_mesh

    return detect_mesh(read_image(sample_root / "images" / "EAMM_anne.jpg"))


def test_euler_round_trip():
    for ypr in [(0, 0, 0), (30, -20, 10), (-45, 25, -30), (10, 5, 170)]:
        got = rotation_to_euler(euler_to_rotation(*ypr))
        assert np.allclose(got, ypr, atol=1e-9)


@pytest.mark.parametrize("ypr", [(25.0, 0.0, 0.0), (-30.0, 10.0, 0.0), (0.0, -20.0, 15.0), (40.0, 15.0, -10.0)])
def test_pose_of_rotated_mesh_recovered_within_one_degree(real_mesh, ypr):
    """Rotate a real face's canonical-frame shape by a known pose and fit it back."""
    fit = fit_similarity(real_mesh)
    shape = fit.to_canonical(real_mesh)
    rot = euler_to_rotation(*ypr)
    rng = np.random.default_rng(0)
    pts = Similarity(fit.scale, rot, fit.translation).to_image(shape)
    pts[:, :2] += rng.normal(0, 0.3, size=(len(pts), 2))  # sub-pixel landmark noise
    got = pose_from_mesh(pts)
    assert np.allclose([got.yaw, got.pitch, got.roll], ypr, atol=1.0), (got, ypr)


def test_yaw_sign_nose_points_right_is_positive(real_mesh):
    fit = fit_similarity(real_mesh)
    shape = fit.to_canonical(real_mesh)
    pts = Similarity(fit.scale, euler_to_rotation(30, 0, 0), fit.translation).to_image(shape)
    nose, centre = pts[4, 0], pts[[234, 454], 0].mean()
    assert nose > centre and pose_from_mesh(pts).yaw > 25


def test_flip_negates_yaw_and_roll_keeps_pitch(estimator, sample_root):
    for name in IMAGES:
        img = read_image(sample_root / "images" / name)
        p = estimator.estimate(img)
        q = estimator.estimate(np.ascontiguousarray(img[:, ::-1]))
        assert abs(p.yaw + q.yaw) < 3.0, (name, p, q)
        assert abs(p.roll + q.roll) < 2.0, (name, p, q)
        assert abs(p.pitch - q.pitch) < 3.0, (name, p, q)
        assert p.backend == "mesh"
    assert HeadPose(10, 5, -3).flipped() == HeadPose(-10, 5, 3)


def test_turned_portrait_has_large_yaw(estimator, sample_root):
    # Vermeer's girl looks over her shoulder toward the image's left.
    p = estimator.estimate(read_image(sample_root / "images" / "LivePortrait_s10.jpg"))
    assert p.yaw < -20


def test_no_face_raises(estimator):
    blank = np.full((256, 256, 3), 127, np.uint8)
    with pytest.raises(NoFaceError):
        estimator.estimate(blank)


def test_backend_selection(tmp_path):
    assert isinstance(get_head_pose_estimator("mesh"), MeshPoseEstimator)
    assert isinstance(get_head_pose_estimator("auto", tmp_path / "missing.pkl"), MeshPoseEstimator)
    with pytest.raises(MissingWeightsError, match="missing.pkl"):
        get_head_pose_estimator("hopenet", tmp_path / "missing.pkl")
    with pytest.raises(ValueError):
        get_head_pose_estimator("nope")
