"""Edges a paste-back enlarges: the photo's border, the lash line of a closing eye, the lid over an iris."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from petra.media import read_image


def test_photo_edge_fill_continues_the_photo_past_its_edge_and_keeps_the_ffhq_fill_farther_out():
    from petra.generators.mesh.render.composite import EDGE_FILL, photo_edge_fill

    photo = np.full((200, 200, 3), 230, np.uint8)
    photo[:, 60:140] = 40                      # dark hair running out of the top edge
    s2c = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 60.0]])  # the crop starts 60 px above the photo
    crop = np.full((256, 256, 3), 128, np.uint8)  # stand-in for FFHQ's blurred, faded fill
    crop[60:] = np.pad(photo, ((0, 0), (0, 56), (0, 0)), mode="edge")[:196]
    out = photo_edge_fill(crop, photo, s2c)
    band = EDGE_FILL * 256
    assert np.array_equal(out[61:], crop[61:])                      # the photo itself is untouched
    assert np.abs(out[55, 100].astype(int) - 40).max() <= 2          # next to the edge: the hair goes on
    assert np.abs(out[55, 20].astype(int) - 230).max() <= 2          # ... and so does the background
    assert np.abs(out[60 - int(band / 2) + 1, 100].astype(int) - 40).max() <= 1
    assert np.array_equal(out[: int(60 - band) - 1], crop[: int(60 - band) - 1])  # farther out: the fill
    inside = np.array([[1.0, 0.0, -10.0], [0.0, 1.0, -10.0]])      # a crop inside the photo: as it is
    small = np.ascontiguousarray(crop[:100, :100])
    assert photo_edge_fill(small, photo, inside) is small


def test_a_head_cut_by_the_photo_top_moving_down_brings_no_dark_smudge_above_it(sample_root):
    """The crown touches the photo's top edge; moved down, the rows above it continue the photo's
    own top rows (hair over hair, background over background) instead of FFHQ's fill."""
    from petra.generators.mesh.render.composite import motion_mask, paste_back
    from petra.generators.mesh.render.transfer import MeshConfig, Transfer

    img = read_image(sample_root / "images" / "AniPortrait_Aragaki.jpg")
    tr = Transfer(img, MeshConfig.from_params(size=256, mode="relative"))
    down = tr.crop_pts.copy()
    down[:, 1] += 10.0
    crop = tr.warper.render(down)
    full = paste_back(img, crop, tr.src_to_crop, motion_mask(*tr.warper.last_maps) * tr._feather)
    top = slice(0, 12)  # FFHQ's fill pulled in made 40 columns here > 25 grey levels darker (a smudge)
    darker = img[top].astype(np.float32).mean((0, 2)) - full[top].astype(np.float32).mean((0, 2))
    assert (darker > 25).sum() == 0, np.nonzero(darker > 25)


@pytest.fixture(scope="module")
def anne(sample_root):
    from petra.generators.mesh.render.transfer import MeshConfig, Transfer

    return Transfer(read_image(sample_root / "images" / "EAMM_anne.jpg"), MeshConfig.from_params(size=256))


def _eyes_to(tr, share: float) -> np.ndarray:
    """The target's mesh with both lid gaps at ``share`` of its own (upper lids lowered)."""
    from petra.generators.mesh.render import lids

    margin, _, lid_list = lids.chains()
    s = tr.params.shape.copy()
    for e in range(2):
        up, lo = margin[lid_list[2 * e][2]], margin[lid_list[2 * e + 1][2]]
        s[up, 1] = s[lo, 1] + share * (s[up, 1] - s[lo, 1])
    return tr.params.pose.to_image(s)


def test_the_lash_line_of_a_shut_eye_has_a_smooth_edge_and_keeps_its_core(anne):
    from petra.generators.mesh.render.lidskin import AA_SIGMA, triangle_weights
    from petra.generators.mesh.render.plan import plan_frame
    from petra.generators.mesh.render.shut import line_triangles

    out_pts = _eyes_to(anne, 0.05)
    fp = plan_frame(anne.warper.plan, out_pts)
    assert len(fp.shut) == 2
    for d, tris in zip(fp.shut, line_triangles()):
        a = d.alpha
        pad = int(np.ceil(3 * AA_SIGMA))  # the soft window is the hard one grown by the blur (eyes: far from the border)
        hard = np.pad(triangle_weights(fp.ids, tris, float(a.max()), fp.dst_ext)[2], pad)
        assert hard.shape == a.shape
        assert set(np.unique(hard)) <= {0.0, float(a.max())}       # what the id map alone gives: steps
        part = (a > 0.05 * a.max()) & (a < 0.95 * a.max())
        edge = (hard > 0).sum() - ((hard > 0)[1:-1, 1:-1] & (hard > 0)[:-2, 1:-1] & (hard > 0)[2:, 1:-1]
                                   & (hard > 0)[1:-1, :-2] & (hard > 0)[1:-1, 2:]).sum()
        assert part.sum() >= edge                                   # a soft fringe along the whole edge
        core = hard > 0
        assert np.array_equal(a[core], hard[core])                  # the line itself as dark as before
        assert a.sum() <= 1.25 * hard.sum()                         # ... and only a fringe added


def test_a_lid_cutting_an_iris_mixes_iris_and_eyeball_by_its_coverage(anne, monkeypatch):
    from petra.generators.mesh.render import warp
    from petra.generators.mesh.render.plan import plan_frame
    from petra.generators.mesh.render.warp import render_np

    monkeypatch.setattr(warp, "soften_seams", lambda img, mx, my, ids: None)  # the three renders' seams differ

    tp = anne.warper.plan
    out_pts = _eyes_to(anne, 0.55)
    fp = plan_frame(tp, out_pts)
    assert fp.irises
    edges = [d.edge() for d in fp.irises]
    assert all(len(e[0]) > 0 for e in edges)  # the lowered lids cut both irises
    img = render_np(tp, fp, out_pts)
    iris_only = render_np(tp, replace(fp, irises=[replace(d, cover=np.ones_like(d.cover)) for d in fp.irises]),
                          out_pts)
    eyeball = render_np(tp, replace(fp, irises=[]), out_pts)
    for ey, ex, c in edges:
        want = c[:, None] * iris_only[ey, ex] + (1 - c[:, None]) * eyeball[ey, ex]
        assert np.abs(img[ey, ex].astype(np.float64) - want).max() <= 1.5  # two roundings
        differ = np.abs(iris_only[ey, ex].astype(int) - eyeball[ey, ex].astype(int)).max(1) > 20
        assert differ.any()  # the cut runs across the iris, not only the white


def test_seam_mask_finds_jumps_of_the_map_between_face_and_ring_only():
    from petra.generators.mesh.render.seams import seam_mask

    ys, xs = np.mgrid[0:64, 0:64].astype(np.float32)
    face = xs < 32                                              # face left of column 32, ring right
    assert not seam_mask(xs, ys, 64, face).any()               # still
    assert not seam_mask(1.8 * xs, 0.6 * ys + 3, 200, face).any()  # a smooth stretch is no edge
    mx = xs.copy()
    mx[:, 32:] += 6.0                                           # texture skipped between columns 31 and 32
    m = seam_mask(mx, ys, 200, face)
    assert m[:, 31].all() and m[:, 32].all() and m.sum() == 2 * 64
    assert not seam_mask(mx, ys, 200, np.ones_like(face)).any()  # inside the face (a nose's edge): kept sharp
    mx[:, 32:] = 300.0                                          # the iris strip beyond the image: not an edge here
    assert not seam_mask(mx, ys, 200, face).any()


def test_a_turned_face_meets_the_hair_with_a_soft_edge_and_the_rest_is_unchanged(anne, monkeypatch):
    from petra.generators.mesh.render import warp
    from petra.generators.mesh.render.plan import plan_frame
    from petra.generators.mesh.render.seams import face_pixels, seam_mask
    from petra.geometry.frame import Similarity, euler_to_rotation

    f = anne.params
    out_pts = Similarity(f.pose.scale, euler_to_rotation(28.0, 0.0, 0.0) @ f.pose.rotation,
                         f.pose.translation).to_image(f.shape)
    tp = anne.warper.plan
    fp = plan_frame(tp, out_pts)
    soft, (mx, my) = warp.render_np(tp, fp, out_pts, return_maps=True)
    monkeypatch.setattr(warp, "soften_seams", lambda img, mx, my, ids: None)
    hard = warp.render_np(tp, fp, out_pts)
    mask = seam_mask(mx, my, tp.size[1], face_pixels(fp.ids))
    assert mask.sum() > 50                                      # the turned face covers part of the ring
    assert np.array_equal(soft[~mask], hard[~mask])

    def contrast(img):  # largest step between horizontal neighbours on the seams
        d = np.abs(np.diff(img.astype(np.float32).mean(-1), axis=1))
        return np.sort(d[mask[:, :-1] & mask[:, 1:]])[-20:].mean()

    assert contrast(soft) < 0.8 * contrast(hard)
