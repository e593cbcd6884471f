"""FFHQ alignment: geometry by hand, pixels against the official algorithm's fixture outputs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from petra.data.align_reference import align_reference
from petra.data.ffhq import align_face, ffhq_quad, quad_affine
from petra.media import read_image


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def ffhq_items(fixtures_dir):
    root = fixtures_dir / "ffhq_align"
    meta = json.loads((root / "fixture.json").read_text())
    return [(read_image(root / it["input"]), read_image(root / it["expected"]), np.array(it["landmarks_68"], float))
            for it in meta["items"]]


def frontal_landmarks(eye_y=100.0, eye_dx=40.0, mouth_y=160.0, cx=200.0) -> np.ndarray:
    lm = np.zeros((68, 2))
    lm[36:42] = [cx - eye_dx / 2, eye_y]
    lm[42:48] = [cx + eye_dx / 2, eye_y]
    lm[48] = [cx - 20, mouth_y]
    lm[54] = [cx + 20, mouth_y]
    return lm


def test_quad_of_an_upright_face_by_hand():
    # e = (40, 0), m = (0, 60): x̂ = (e - R(m))/|.| = (1, 0); s = max(80, 108) = 108; c = (200, 106)
    q = ffhq_quad(frontal_landmarks())
    assert q.qsize == pytest.approx(216)
    np.testing.assert_allclose(q.corners, [[92, -2], [92, 214], [308, 214], [308, -2]])


def test_quad_turns_with_the_face():
    lm = frontal_landmarks()
    theta = np.deg2rad(30)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    q0, q1 = ffhq_quad(lm), ffhq_quad((lm - 200) @ rot.T + 200)
    assert q1.qsize == pytest.approx(q0.qsize)
    np.testing.assert_allclose(q1.corners, (q0.corners - 200) @ rot.T + 200, atol=1e-9)


def test_quad_affine_maps_pixel_centres_like_pil():
    corners = np.array([[10.0, 20.0], [10.0, 120.0], [110.0, 120.0], [110.0, 20.0]])
    m = quad_affine(corners, 100)
    # output pixel (0, 0) samples the source at the quad corner + half an output pixel
    np.testing.assert_allclose(m @ [0, 0, 1], [10.5, 20.5])
    np.testing.assert_allclose(m @ [99, 99, 1], [109.5, 119.5])


def test_reference_implementation_reproduces_the_fixture(ffhq_items):
    for img, expected, lm in ffhq_items[::4]:
        assert psnr(align_reference(img, lm), expected) > 60


def test_fast_alignment_matches_the_official_output(ffhq_items):
    values, padded = [], 0
    for img, expected, lm in ffhq_items:
        out = align_face(img, lm, 256)
        padded += out.padded
        assert out.image.shape == (256, 256, 3) and out.image.dtype == np.uint8
        values.append(psnr(out.image, expected))
    assert padded >= 6  # the forehead-padding path is exercised
    assert min(values) > 35  # the contract
    assert np.mean(values) > 48  # what it actually achieves (~52 dB)


def test_output_space_padding_equals_building_the_padded_frame(ffhq_items):
    for img, _, lm in ffhq_items:
        fast = align_face(img, lm, 256)
        if fast.padded:
            exact = align_face(img, lm, 256, exact_padding=True)
            assert psnr(fast.image, exact.image) > 45


def test_crop_landmarks_follow_the_warp(ffhq_items):
    img, _, lm = ffhq_items[0]
    out = align_face(img, lm, 256)
    eyes = np.array([out.landmarks[36:42].mean(0), out.landmarks[42:48].mean(0)])
    # FFHQ puts the eyes level, left of centre / right of centre, in the upper half
    assert abs(eyes[0, 1] - eyes[1, 1]) < 1.0
    assert eyes[0, 0] < 128 < eyes[1, 0] and 80 < eyes[:, 1].mean() < 128
    big = align_face(img, lm, 1024)
    np.testing.assert_allclose(big.landmarks, (out.landmarks + 0.5) * 4 - 0.5, atol=0.05)


def test_dlib_landmarks_close_to_the_reference_detection(fixtures_dir, ffhq_items):
    from petra.data.landmarks import Landmarker

    fast, exact = Landmarker(upsample=1, detect_max_side=320), Landmarker(upsample=1, detect_max_side=100000)
    for img, _, lm in ffhq_items[::3]:
        assert np.abs(exact(img) - lm).max() == 0  # full-frame detection = the fixture's dlib run
        assert np.abs(fast(img) - lm).mean() < 2.0


def test_no_face_and_two_faces_are_rejected(ffhq_items):
    from petra.data.landmarks import Landmarker
    from petra.errors import MultipleFacesError, NoFaceError

    lmk = Landmarker()
    img = ffhq_items[0][0]
    with pytest.raises(NoFaceError):
        lmk(np.full_like(img, 127))
    with pytest.raises(MultipleFacesError):
        lmk(np.concatenate([img, ffhq_items[2][0]], axis=1))


def test_changing_align_mode_redoes_the_frame_and_keeping_it_reuses_the_record(tmp_path, ffhq_items):
    from petra.data.align import align_frame
    from petra.data.align_modes import align_by_mode
    from petra.data.landmarks import Landmarker
    from petra.io import write_image

    frame, png = tmp_path / "frame.png", tmp_path / "aligned" / "t.png"
    write_image(frame, ffhq_items[0][0])
    lmk = Landmarker()
    settings = {"size": 256, "upsample": 1, "min_face_px": 40, "detect_max_side": 320, "mode": "direct"}
    rec = align_frame(frame, png, lmk, settings)
    lm = np.array(rec["landmarks_src"])
    direct = read_image(png)
    assert np.array_equal(direct, align_by_mode(ffhq_items[0][0], lm, 256, "direct").image)
    stamp = png.stat().st_mtime_ns
    assert align_frame(frame, png, lmk, settings) == rec and png.stat().st_mtime_ns == stamp  # reused
    released = align_frame(frame, png, lmk, {**settings, "mode": "released"})
    assert released["depends"]["settings"]["mode"] == "released"
    out = read_image(png)
    assert np.array_equal(out, align_by_mode(ffhq_items[0][0], lm, 256, "released").image)
    assert np.abs(out.astype(np.int16) - direct).mean() > 0.2  # a different crop, not the old file
