"""Mesh-warp renderer: self-reproduction, torch == fast path, gradients, border, mouth, paste-back."""
from __future__ import annotations

import numpy as np
import pytest

from petra.geometry.frame import Similarity, euler_to_rotation
from petra.media import read_image


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


@pytest.fixture(scope="module")
def anne(sample_root):
    from petra.generators.mesh.render.transfer import MeshConfig, Transfer

    img = read_image(sample_root / "images" / "EAMM_anne.jpg")
    return img, Transfer(img, MeshConfig.from_params(size=256, mode="relative"))


@pytest.fixture(scope="module")
def open_mouth_frame(sample_root):
    """A driving frame with a wide smile showing teeth, and its mesh."""
    from petra.generators.mesh.render.mouth import opening
    from petra.geometry.facemesh import detect_mesh
    from petra.video import iter_frames

    best = None
    for t, f in iter_frames(sample_root / "videos" / "id0001" / "LivePortrait_d0.mp4", interval_s=0.25):
        pts = detect_mesh(f)
        if best is None or opening(pts) > best[2]:
            best = (f, pts, opening(pts))
    return best


@pytest.mark.parametrize("mode", ["relative", "absolute"])
@pytest.mark.parametrize("name", ["EAMM_anne.jpg", "LivePortrait_s10.jpg"])
def test_driving_a_target_with_itself_reproduces_it(sample_root, name, mode):
    from petra.generators.mesh.render.transfer import MeshConfig, Transfer

    img = read_image(sample_root / "images" / name)
    tr = Transfer(img, MeshConfig.from_params(size=256, mode=mode))
    out = tr.drive(img)
    assert psnr(out.crop, tr.crop) >= 40.0
    assert out.full.shape == img.shape and psnr(out.full, img) >= 40.0


def _turned(tr, yaw=15.0, pitch=-8.0):
    f = tr.params
    pose = Similarity(f.pose.scale, euler_to_rotation(yaw, pitch, 5.0) @ f.pose.rotation, f.pose.translation)
    return pose.to_image(f.shape)


def test_torch_renderer_matches_fast_path_and_has_gradients(anne, open_mouth_frame):
    import torch

    from petra.generators.mesh.render.torch_warp import render
    from petra.generators.mesh.render.warp import MeshWarper

    torch.set_num_threads(1)
    _, tr = anne
    drv, drv_pts, _ = open_mouth_frame
    out_pts = _turned(tr)
    # open the mouth of the output mesh by the driving frame's opening, so the mouth layer runs
    from petra.geometry.motion import compose_mesh, fit_face

    out_pts = compose_mesh(fit_face(out_pts), fit_face(drv_pts), None, "absolute")
    fast = MeshWarper(tr.crop, tr.crop_pts).render(out_pts, drv, drv_pts)
    tex = torch.tensor(tr.crop.transpose(2, 0, 1) / 255.0, dtype=torch.float32, requires_grad=True)
    src = torch.tensor(tr.crop_pts, dtype=torch.float32, requires_grad=True)
    dst = torch.tensor(out_pts, dtype=torch.float32, requires_grad=True)
    d_img = torch.tensor(drv.transpose(2, 0, 1) / 255.0, dtype=torch.float32)
    d_pts = torch.tensor(drv_pts, dtype=torch.float32, requires_grad=True)
    img = render(tex, src, dst, d_img, d_pts)
    slow = np.clip(img.detach().numpy().transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)
    assert psnr(fast, slow) >= 40.0
    assert psnr(fast, tr.crop) < 35.0  # the output really moved
    loss = ((img - tex.detach()) ** 2).mean()
    loss.backward()
    for t in (tex, src, dst, d_pts):
        assert torch.isfinite(t.grad).all()
        assert t.grad.abs().sum() > 0


def test_torch_renderer_matches_fast_path_on_closing_eyes(anne):
    """Half-shut eyes (lids at 20 % of their gap): both eyelid layers run (the skin plate on the
    stretched bands, the lash line between the lids) and the two renderers still agree."""
    import torch

    from petra.generators.mesh.render.plan import plan_frame
    from petra.generators.mesh.render.torch_warp import render
    from petra.geometry.motion import _lids

    torch.set_num_threads(1)
    _, tr = anne
    up, lo = _lids()
    s = tr.params.shape.copy()
    s[up, 1] = s[lo, 1] + 0.2 * (s[up, 1] - s[lo, 1])
    out_pts = tr.params.pose.to_image(s)
    fp = plan_frame(tr.warper.plan, out_pts)
    assert len(fp.skin) >= 2 and len(fp.shut) == 2
    fast = tr.warper.render(out_pts)
    tex = torch.tensor(tr.crop.transpose(2, 0, 1) / 255.0, dtype=torch.float32, requires_grad=True)
    dst = torch.tensor(out_pts, dtype=torch.float32, requires_grad=True)
    img = render(tex, torch.tensor(tr.crop_pts, dtype=torch.float32), dst)
    slow = np.clip(img.detach().numpy().transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)
    assert psnr(fast, slow) >= 40.0
    ((img - tex.detach()) ** 2).mean().backward()
    assert torch.isfinite(dst.grad).all() and dst.grad.abs().sum() > 0


def test_motion_fades_to_zero_at_the_border_without_seams(anne):
    from petra.generators.mesh.render.plan import plan_frame
    from petra.generators.mesh.render.warp import backward_map

    _, tr = anne
    out_pts = _turned(tr, yaw=20.0)
    tp = tr.warper.plan
    mx, my = backward_map(tp, plan_frame(tp, out_pts), out_pts)
    s = mx.shape[0]
    xs, ys = np.meshgrid(np.arange(s, dtype=np.float32), np.arange(s, dtype=np.float32))
    dx, dy = mx - xs, my - ys
    border = np.r_[dx[0], dx[-1], dx[:, 0], dx[:, -1], dy[0], dy[-1], dy[:, 0], dy[:, -1]]
    assert np.abs(border).max() < 1e-3
    assert np.hypot(dx, dy).max() > 3.0  # the head did move
    # continuity (no seams): without the border fade the field is piecewise affine, so a
    # one-pixel step changes the displacement by about the slope (|A - I|) of the affine
    # piece on either side; a seam (a jump between pieces that do not share an edge) breaks this.
    import cv2

    from petra.generators.mesh.render.field import (
        dense_field_np,
        topology,
        triangle_affines,
    )
    from petra.generators.mesh.render.plan import extended

    fp = plan_frame(tp, out_pts)
    topo = topology()
    src_ext, dst_ext = extended(tp, out_pts)
    aff = triangle_affines(src_ext, dst_ext, topo.triangles, fp.src_triangles)
    mx, my = dense_field_np(aff, fp.ids)
    dx, dy = mx - xs, my - ys
    a = aff[fp.ids]
    # background/hair/neck pixels away from the face silhouette (a true occlusion edge)
    ring = cv2.erode((fp.ids >= topo.n_face).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert ring.mean() > 0.3
    jac = np.sqrt((a[..., 0] - 1) ** 2 + a[..., 1] ** 2 + a[..., 3] ** 2 + (a[..., 4] - 1) ** 2)
    for axis in (0, 1):
        step = np.hypot(np.diff(dx, axis=axis), np.diff(dy, axis=axis))
        lo = jac[:, :-1] if axis == 1 else jac[:-1]
        hi = jac[:, 1:] if axis == 1 else jac[1:]
        inside = ring[:, :-1] & ring[:, 1:] if axis == 1 else ring[:-1] & ring[1:]
        # a pixel within 0.75 px of an edge may take either piece's map: 1 + 2 x 0.75 slopes
        assert (step <= 2.5 * np.maximum(lo, hi) + 0.05)[inside].all()


def _poly_mask(pts: np.ndarray, idx: np.ndarray, size: int) -> np.ndarray:
    import cv2

    m = np.zeros((size, size), np.uint8)
    cv2.fillPoly(m, [np.round(pts[idx, :2]).astype(np.int32)], 1)
    return m.astype(bool)


def test_open_mouth_gets_an_interior_not_stretched_lips(anne, open_mouth_frame):
    import cv2

    from petra.geometry.canonical import canonical_face
    from petra.geometry.motion import compose_mesh, fit_face

    _, tr = anne
    drv, drv_pts, op = open_mouth_frame
    assert op > 0.05  # the driving frame really opens the mouth
    out_pts = compose_mesh(tr.params, fit_face(drv_pts), None, "absolute")
    inner = canonical_face().loops["mouth_inner"]
    s = tr.crop.shape[0]
    interior = cv2.erode(_poly_mask(out_pts, inner, s).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert interior.sum() > 50
    with_layer = tr.warper.render(out_pts, drv, drv_pts)[interior].astype(np.float64)
    stretched = tr.warper.render(out_pts)[interior].astype(np.float64)
    def teeth(px: np.ndarray) -> float:  # bright, unsaturated pixels
        return float(((px.min(1) > 110) & (px.max(1) - px.min(1) < 70)).mean())

    # with the layer: teeth from the (colour-matched) driving frame; without it the
    # opening is the target's lip line stretched over the gap: red, no teeth
    assert teeth(with_layer) > 0.25
    assert teeth(stretched) < 0.05


def test_mouth_interior_is_shaded_like_the_targets_skin_around_the_mouth(anne, open_mouth_frame):
    """Local colour matching: a target lit from one side (its right half darkened to 60 %)
    gets a mouth interior darker on that side; the evenly lit target gets an even one."""
    from petra.generators.mesh.render.plan import plan_frame, prepare_target
    from petra.generators.mesh.render.warp import render_np
    from petra.geometry.motion import compose_mesh, fit_face

    _, tr = anne
    drv, drv_pts, _ = open_mouth_frame
    out_pts = compose_mesh(tr.params, fit_face(drv_pts), None, "absolute")
    cx = round(float(out_pts[[61, 291], 0].mean()))
    side = tr.crop.copy()
    side[:, cx:] = (side[:, cx:] * 0.6).astype(np.uint8)

    def halves(target: np.ndarray) -> tuple[float, float]:
        tp = prepare_target(target, tr.crop_pts)
        fp = plan_frame(tp, out_pts, drv, drv_pts)
        m = fp.mouth
        assert m is not None and m.shade is not None
        img = render_np(tp, fp, out_pts, drv, drv_pts).astype(np.float64).mean(2)
        box = img[m.y0:m.y0 + m.ids.shape[0], m.x0:m.x0 + m.ids.shape[1]]
        inside = m.alpha > 0.9
        xs = np.arange(m.x0, m.x0 + m.ids.shape[1])[None, :].repeat(m.ids.shape[0], 0)
        return float(box[inside & (xs < cx - 2)].mean()), float(box[inside & (xs > cx + 2)].mean())

    even_l, even_r = halves(tr.crop)
    side_l, side_r = halves(side)
    assert abs(even_r / even_l - 1) < 0.15
    assert side_r / side_l < 0.85 * even_r / even_l


def test_paste_back_keeps_the_photo_outside_the_moving_face(anne):
    img, tr = anne
    out = tr.drive(img)  # reference
    from petra.generators.mesh.render.composite import motion_mask, paste_back

    crop = tr.warper.render(_turned(tr, yaw=15.0))
    mx, my = tr.warper.last_maps
    full = paste_back(img, crop, tr.src_to_crop, motion_mask(mx, my) * tr._feather)
    assert full.shape == img.shape and full.dtype == np.uint8
    changed = np.abs(full.astype(int) - img).sum(2) > 10
    assert changed.any()
    # the corners of the photo (far from the face) are untouched
    h, w = img.shape[:2]
    for y, x in ((0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)):
        assert not changed[y, x]
    del out


def test_turning_a_turned_portrait_does_not_paint_background_on_the_face(sample_root):
    """Vermeer's girl (yaw ~ -33 deg, black background) turned 20 deg toward the camera:
    face pixels the output reveals sample the person, not the background."""
    import dataclasses

    from petra.generators.mesh.render.plan import plan_frame
    from petra.generators.mesh.render.transfer import MeshConfig, Transfer
    from petra.generators.mesh.render.warp import render_np

    img = read_image(sample_root / "images" / "LivePortrait_s10.jpg")
    tr = Transfer(img, MeshConfig.from_params(size=256, paste_back=False))
    tp = tr.warper.plan
    assert tp.person is not None  # a turned target gets the guard
    out_pts = _turned(tr, yaw=20.0, pitch=0.0)
    fp = plan_frame(tp, out_pts)
    assert fp.revealed is not None and fp.revealed.sum() > 500  # the far cheek opens up

    def dark(im: np.ndarray) -> np.ndarray:  # the background is near black; only revealed pixels count
        return (im.max(2) < 45) & fp.revealed

    guarded = render_np(tp, fp, out_pts)
    bare_tp = dataclasses.replace(tp, person=None, nearest=None)
    bare = render_np(bare_tp, plan_frame(bare_tp, out_pts), out_pts)
    assert dark(bare).sum() > 20  # without the guard the background shows on the cheek
    assert dark(guarded).sum() < 0.5 * dark(bare).sum()
    assert psnr(tr.drive(img).crop, tr.crop) >= 40.0  # self-drive is still exact


def test_zbuffer_gives_each_pixel_to_the_nearer_of_two_crossing_triangles():
    """Two triangles whose depths cross: per pixel the nearer one wins, whatever the drawing
    order (painter's order by mean depth would give one of them the whole overlap); a
    triangle without a depth test (a ring) never covers a depth-tested one."""
    from petra.generators.mesh.render.field import rasterize_ids

    pts = np.array([[10, 10], [50, 10], [30, 50], [10, 12], [50, 12], [30, 48], [0, 0], [63, 0], [30, 63]], float)
    tris = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    depth = np.array([0.0, 10.0, 5.0, 10.0, 0.0, 5.0, -100.0, -100.0, -100.0])  # the ring is "nearest"
    for order in ([2, 0, 1], [2, 1, 0]):
        ids = rasterize_ids(pts, np.array(order), tris, (64, 64), depth, n_ztest=2)
        assert ids[20, 18] == 0 and ids[20, 42] == 1  # left: triangle 0 is nearer, right: triangle 1
        assert ids[5, 30] == 2 and ids[55, 30] == 2  # the ring shows only where no face triangle is


def test_zbuffer_keeps_the_nearest_front_facing_surface_of_a_turned_face(anne):
    """On a head turned 35 deg, every pixel of the face shows the front-facing triangle whose
    interpolated depth is smallest there (checked by brute force on sampled pixels,
    including those where front-facing surfaces overlap: nose wing over cheek)."""
    from petra.generators.mesh.render.field import extend_depth, signed_area, topology
    from petra.generators.mesh.render.plan import extended, plan_frame

    _, tr = anne
    out = _turned(tr, yaw=35.0, pitch=0.0)
    fp = plan_frame(tr.warper.plan, out)
    topo = topology()
    _, dst = extended(tr.warper.plan, out)
    depth = extend_depth(out[:, 2])
    face = topo.triangles[: topo.n_face]
    front = np.nonzero(signed_area(dst, face) < -1e-3)[0]
    rng = np.random.default_rng(0)
    ys, xs = np.nonzero(np.isin(fp.ids, front))
    pick = rng.choice(len(ys), 4000, replace=False)
    p = np.stack([xs[pick], ys[pick]], 1).astype(float)
    tri = dst[face[front]]  # [F, 3, 2]
    v0, v1, v2 = tri[:, 0], tri[:, 1], tri[:, 2]
    den = (v1[:, 0] - v0[:, 0]) * (v2[:, 1] - v0[:, 1]) - (v2[:, 0] - v0[:, 0]) * (v1[:, 1] - v0[:, 1])
    d = p[:, None, :] - v0[None]
    l1 = (d[..., 0] * (v2[:, 1] - v0[:, 1]) - d[..., 1] * (v2[:, 0] - v0[:, 0])) / den
    l2 = (d[..., 1] * (v1[:, 0] - v0[:, 0]) - d[..., 0] * (v1[:, 1] - v0[:, 1])) / den
    inside = (l1 >= -1e-6) & (l2 >= -1e-6) & (l1 + l2 <= 1 + 1e-6)
    z = depth[face[front]]
    zp = (1 - l1 - l2) * z[:, 0] + l1 * z[:, 1] + l2 * z[:, 2]
    best = np.where(inside, zp, np.inf).min(1)
    owner = fp.ids[ys[pick], xs[pick]]
    zo = zp[np.arange(len(pick)), np.searchsorted(front, owner)]
    assert np.all(zo <= best + 1e-6)
    overlap = (inside.sum(1) > 1) & (np.where(inside, zp, -np.inf).max(1) > best + 0.5)
    assert overlap.sum() >= 10  # the turn really puts one surface in front of another
