"""Paste-back at the photo's resolution: the warp samples the photo itself, not the crop's resampling of it."""
from __future__ import annotations

import numpy as np
import pytest

from petra.generators.mesh.render.composite import paste_back


def _scene(scale: float, size: int = 96, seed: int = 0):
    """A textured photo, the crop of its centre at ``scale`` crop px per photo px, a backward map
    that shifts the middle of the crop by 3 crop px, the plain render of that map, and the truth:
    the same motion applied to the photo at its own resolution."""
    import cv2

    rng = np.random.default_rng(seed)
    side = int(round(size / scale)) + 40
    photo = cv2.GaussianBlur(rng.integers(0, 256, (side, side, 3)).astype(np.uint8), (0, 0), 0.7)
    c = side / 2.0
    src_to_crop = np.array([[scale, 0, size / 2 - scale * c], [0, scale, size / 2 - scale * c]])
    inv = cv2.invertAffineTransform(src_to_crop)
    texture = cv2.warpAffine(photo, src_to_crop, (size, size), flags=cv2.INTER_AREA)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    bump = np.exp(-(((xx - size / 2) ** 2 + (yy - size / 2) ** 2) / (2 * (size / 6) ** 2))).astype(np.float32)
    mx, my = xx + 3.0 * bump, yy
    crop = cv2.remap(texture, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = np.zeros((size, size), np.float32)
    mask[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1.0
    # truth: each photo pixel p samples the photo at inv(map(src_to_crop p))
    py, px = np.mgrid[0:side, 0:side].astype(np.float64)
    u = src_to_crop[0, 0] * px + src_to_crop[0, 2]
    v = src_to_crop[1, 1] * py + src_to_crop[1, 2]
    b = np.exp(-(((u - size / 2) ** 2 + (v - size / 2) ** 2) / (2 * (size / 6) ** 2)))
    tx = (inv[0, 0] * (u + 3.0 * b) + inv[0, 2]).astype(np.float32)
    ty = (inv[1, 1] * v + inv[1, 2]).astype(np.float32)
    truth = cv2.remap(photo, tx, ty, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    win = (slice(int(inv[1, 1] * size * 0.35 + inv[1, 2]), int(inv[1, 1] * size * 0.65 + inv[1, 2])),
           slice(int(inv[0, 0] * size * 0.35 + inv[0, 2]), int(inv[0, 0] * size * 0.65 + inv[0, 2])))
    return photo, crop, texture, src_to_crop, mask, mx, my, truth, win


def _err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def test_an_upscaled_crop_gets_the_photos_own_detail_back() -> None:
    photo, crop, texture, s2c, mask, mx, my, truth, win = _scene(scale=1 / 3)
    blurred = paste_back(photo, crop, s2c, mask)
    sharp = paste_back(photo, crop, s2c, mask, detail=(texture, crop, mx, my))
    e_blur, e_sharp = _err(blurred[win], truth[win]), _err(sharp[win], truth[win])
    assert e_sharp < 0.35 * e_blur, (e_sharp, e_blur)  # the moved texture at the photo's resolution
    # outside the mask the photo is untouched either way
    assert np.array_equal(sharp[:5, :5], photo[:5, :5])


def test_where_a_layer_replaced_the_warp_no_detail_is_added() -> None:
    """A flat patch (a mouth interior, an iris) in the render stays the upscaled render there."""
    photo, crop, texture, s2c, mask, mx, my, truth, win = _scene(scale=1 / 3)
    warp = crop
    crop = crop.copy()
    n = crop.shape[0]
    crop[n // 2 - 6: n // 2 + 6, n // 2 - 6: n // 2 + 6] = (200, 30, 30)
    plain = paste_back(photo, crop, s2c, mask)
    sharp = paste_back(photo, crop, s2c, mask, detail=(texture, warp, mx, my))
    inv = np.linalg.inv(np.vstack([s2c, [0, 0, 1]]))[:2]
    cy, cx = (int(inv[1, 1] * n / 2 + inv[1, 2]), int(inv[0, 0] * n / 2 + inv[0, 2]))
    core = (slice(cy - 6, cy + 6), slice(cx - 6, cx + 6))  # the patch's middle, in photo pixels
    assert _err(sharp[core], plain[core]) < 1.0
    assert np.abs(sharp[core].astype(int) - (200, 30, 30)).max() < 8


@pytest.mark.parametrize("scale", [1.0, 1.7])
def test_a_crop_at_or_above_the_photos_resolution_gets_its_sharpness_back(scale: float) -> None:
    """The crop holds the photo's content but resamples it three times (photo -> crop -> render ->
    photo); sampled through the map directly it is one resampling."""
    photo, crop, texture, s2c, mask, mx, my, truth, win = _scene(scale=scale)
    resampled = paste_back(photo, crop, s2c, mask)
    direct = paste_back(photo, crop, s2c, mask, detail=(texture, crop, mx, my))
    assert _err(direct[win], truth[win]) < 0.6 * _err(resampled[win], truth[win])


def test_iris_pixels_are_taken_back_to_the_iris_in_the_crop(sample_root) -> None:
    """The irises are warped from patches beside the crop; for the photo's detail their map is
    translated back to the iris's place in the crop, where the crop shows the same iris."""
    import cv2

    from petra.generators.mesh.render.transfer import MeshConfig, Transfer
    from petra.media import read_image

    img = read_image(sample_root / "images" / "SkyReels-A1_ref_images_19.jpg")
    tr = Transfer(img, MeshConfig.from_params(size=256, mode="absolute"))
    tr.drive(img)
    mx, my = tr.warper.last_maps
    plain, cx, cy = tr.warper.detail_maps()
    strip = mx > tr.crop.shape[1] - 1
    assert strip.sum() > 50  # both irises come from the strip
    back = cv2.remap(tr.crop, cx, cy, cv2.INTER_LINEAR)
    raw = cv2.remap(tr.crop, mx, np.ascontiguousarray(my), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    gap = np.abs(back.astype(int) - plain.astype(int)).max(-1)[strip]
    assert np.median(gap) < 12, np.median(gap)  # the visible iris matches the crop's own iris
    assert np.median(np.abs(raw.astype(int) - plain.astype(int)).max(-1)[strip]) > 2 * np.median(gap)
    outside = ~strip  # elsewhere the map is unchanged
    assert np.array_equal(cx[outside], mx[outside]) and np.array_equal(cy[outside], my[outside])
