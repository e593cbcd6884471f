"""The iris atlas: where a moved iris was (the eye's own white, no ghost) and what the lids hid of it."""
from __future__ import annotations

import numpy as np
import pytest

from petra.media import read_image


@pytest.mark.parametrize("name", ["EAMM_anne.jpg", "LIA_taylor.jpg", "LivePortrait_s0.jpg"])
def test_the_painted_out_iris_is_as_bright_as_the_eyes_own_white(sample_root, name):
    """A gaze that moves the iris uncovers where it was; inpainting from lashes and lid shadow left
    that 19-66 grey levels darker than the white (a ghost iris) on these targets."""
    import cv2

    from petra.generators.mesh.render import eyes as E
    from petra.generators.mesh.render.transfer import MeshConfig, Transfer
    from petra.geometry.canonical import canonical_face

    tr = Transfer(read_image(sample_root / "images" / name), MeshConfig.from_params(size=256))
    atlas, patches = E.build_atlas(tr.crop, tr.crop_pts)
    assert len(patches) == 2
    grey = cv2.cvtColor(atlas[:, :256], cv2.COLOR_RGB2GRAY).astype(float)
    grey0 = cv2.cvtColor(tr.crop, cv2.COLOR_RGB2GRAY).astype(float)
    yy, xx = np.mgrid[0:256, 0:256]
    for p in patches:
        opening = E.eye_polygon_mask(tr.crop_pts, canonical_face().loops[p.eye], (256, 256)) > 0
        c, r = tr.crop_pts[p.iris[0], :2], E.iris_radius(tr.crop_pts, p.iris)
        disk = (xx - c[0]) ** 2 + (yy - c[1]) ** 2 <= (E.RING * r) ** 2
        white = grey0[opening & ~disk]
        white = white[white >= np.percentile(white, 30)]
        assert abs(grey[disk & opening].mean() - white.mean()) <= 8.0, p.eye


def test_hidden_iris_pixels_come_from_their_mirror_image_across_the_centre_line():
    from petra.generators.mesh.render.eyes import mirror_hidden

    n, c, r = 21, np.array([10.0, 10.0]), 8.0
    yy, xx = np.mgrid[0:n, 0:n]
    patch = np.stack([yy * 10, xx * 10, (yy + xx) * 5], -1).astype(np.uint8)  # every pixel distinct
    vis = np.full((n, n), 255, np.uint8)
    vis[:6] = 0                                                   # the upper lid hid the iris top
    before = patch.copy()
    grown = mirror_hidden(patch, vis, c, r)
    inside = (xx - 10) ** 2 + (yy - 10) ** 2 <= r * r
    took = inside & (vis == 0)
    assert took.sum() > 10 and (grown[took] == 255).all()
    ys, xs = np.nonzero(took)
    assert np.array_equal(patch[ys, xs], before[20 - ys, xs])     # mirrored across y = 10
    assert np.array_equal(patch[~took], before[~took])            # the rest as it was
    assert (grown[(vis == 0) & ~inside] == 0).all()               # beyond the iris: left to the inpainting
