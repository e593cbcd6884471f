"""Canonical face, pose/identity/expression split and composition of the output mesh."""
from __future__ import annotations

import numpy as np
import pytest

from petra.geometry.canonical import canonical_face
from petra.geometry.frame import Similarity, euler_to_rotation
from petra.geometry.motion import (
    LID_LOWER_R,
    LID_UPPER_R,
    compose_mesh,
    compose_params,
    fit_face,
)
from petra.media import read_image


@pytest.fixture(scope="module")
def meshes(sample_root):
    from petra.geometry.facemesh import FaceMesh

    with FaceMesh(static=True) as fm:
        return {n: fm.detect(read_image(sample_root / "images" / n))
                for n in ("EAMM_anne.jpg", "LivePortrait_s0.jpg", "SadTalker_happy.jpg")}


def test_canonical_face_is_mirror_symmetric_and_outward():
    cf = canonical_face()
    v = cf.vertices
    assert np.allclose(v[cf.mirror] * [-1, 1, 1], v, atol=1e-5)
    assert np.all(cf.mirror[cf.mirror] == np.arange(len(v)))
    assert len(cf.triangles) == 898 and cf.mouth_triangles.sum() == 18 and cf.eye_triangles.sum() == 28
    p = v[cf.triangles]
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    assert (n[:, 2] > 0).mean() > 0.9  # a frontal face shows (almost) all its triangles


@pytest.mark.parametrize("mode", ["relative", "absolute"])
def test_driving_with_itself_reproduces_the_mesh(meshes, mode):
    pts = meshes["EAMM_anne.jpg"]
    f = fit_face(pts)
    out = compose_mesh(f, f, f, mode)
    assert np.abs(out - pts).max() < 1e-6


def test_relative_pose_change_is_applied_to_the_target(meshes):
    tgt, src = fit_face(meshes["EAMM_anne.jpg"]), fit_face(meshes["LivePortrait_s0.jpg"])
    turned = Similarity(src.pose.scale, euler_to_rotation(20, 0, 0) @ src.pose.rotation, src.pose.translation)
    src2 = fit_face(turned.to_image(src.shape))
    pose, _ = compose_params(tgt, src2, src, "relative")
    delta = pose.rotation @ tgt.pose.rotation.T
    from petra.geometry.frame import rotation_to_euler

    assert np.allclose(rotation_to_euler(delta), (20, 0, 0), atol=0.5)


def _blink(shape: np.ndarray) -> np.ndarray:
    """Close both eyes of a canonical-frame shape: upper lids down onto the lower lids."""
    m = canonical_face().mirror
    out = shape.copy()
    for up, lo in ((LID_UPPER_R, LID_LOWER_R), (m[LID_UPPER_R], m[LID_LOWER_R])):
        out[up, 1] = out[lo, 1]
    return out


def test_blink_is_retargeted_to_the_target_eye_height(meshes):
    """A full blink of one eye shape closes a differently shaped eye exactly (no overshoot, no gap)."""
    src = fit_face(meshes["LivePortrait_s0.jpg"])
    tgt = fit_face(meshes["SadTalker_happy.jpg"])
    blink = fit_face(src.pose.to_image(_blink(src.shape)))
    _, shape = compose_params(tgt, blink, src, "relative")
    gap_before = tgt.shape[LID_UPPER_R, 1] - tgt.shape[LID_LOWER_R, 1]
    gap_after = shape[LID_UPPER_R, 1] - shape[LID_LOWER_R, 1]
    assert gap_before.mean() > 0.3  # cm: the target's eyes are open
    assert np.abs(gap_after).mean() < 0.2 * gap_before.mean()
    # raw offsets would not close it: the two eyes open by different amounts
    raw = tgt.shape + (blink.shape - src.shape)
    raw_gap = raw[LID_UPPER_R, 1] - raw[LID_LOWER_R, 1]
    assert np.abs(raw_gap).mean() > np.abs(gap_after).mean()
