"""Head layer (render/head.py): the moving head is layered over the plate with its own alpha and
foreground colour, so no band of the target's old background travels with the hair, and a still
frame stays the target exactly.

The scene is synthetic, so the truth is known: a soft-edged, streaked "head" (alpha, foreground
colour) over strongly contrasting diagonal stripes, given to :func:`prepare_head` with a blurry,
slightly wide mask like MediaPipe's segmentation. The warp moves it by a known shift (faded to
zero at the border like the engine's field). Ground truth near the moved outline is the moved
head over the layer's own plate: ``alpha_m * F_m + (1 - alpha_m) * plate``.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from petra.generators.mesh.render.field import border_image
from petra.generators.mesh.render.head import HeadLayer, composite, prepare_head

SIZE = 160
SHIFT = (6.0, 3.0)  # px, the head's motion in the interior


def _scene(seed: int = 0, edge_px: float = 3.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(target uint8 [S, S, 3], true alpha [S, S], true foreground float32 [S, S, 3], segmentation-like mask)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    stripe = np.sin((xs + ys) * 2 * np.pi / 7) > 0
    bg = np.where(stripe[..., None], np.float32([235, 240, 250]), np.float32([30, 60, 170]))
    cx, cy, rx, ry = SIZE * 0.5, SIZE * 0.48, SIZE * 0.27, SIZE * 0.33
    inside_px = (1 - np.sqrt(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2)) * min(rx, ry)
    a = np.clip(0.5 + inside_px / edge_px, 0.0, 1.0)
    alpha = a * a * (3 - 2 * a)
    streak = 0.5 + 0.5 * np.sin(ys * 2 * np.pi / 5 + 0.3 * np.sin(xs / 4))
    fg = np.float32([120, 70, 35]) + streak[..., None] * np.float32([60, 40, 20]) + rng.normal(0, 6, (SIZE, SIZE, 3))
    fg = np.clip(fg, 0, 255).astype(np.float32)
    target = np.clip(alpha[..., None] * fg + (1 - alpha[..., None]) * bg + 0.5, 0, 255).astype(np.uint8)
    seg = cv2.GaussianBlur((alpha > 0.5).astype(np.float32), (0, 0), 2.5)  # blurry and a bit wide
    return target, alpha.astype(np.float32), fg, seg


def _shift_maps() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    b = border_image((SIZE, SIZE))
    return xs - SHIFT[0] * b, ys - SHIFT[1] * b, b


@pytest.fixture(scope="module")
def moved() -> dict[str, np.ndarray]:
    target, alpha, fg, seg = _scene()
    layer = prepare_head(target, seg)
    mx, my, b = _shift_maps()
    img = cv2.remap(target, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out = composite(layer, img, mx, my)
    am = cv2.remap(alpha, mx, my, cv2.INTER_LINEAR)
    fm = cv2.remap(fg, mx, my, cv2.INTER_LINEAR)
    truth = am[..., None] * fm + (1 - am[..., None]) * layer.plate.astype(np.float32)
    edge = (am > 0.02) & (am < 0.98)
    band = cv2.dilate(edge.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    full = b >= 1.0  # where the shift is whole (the border fade keeps warped pixels)
    err = np.abs(out.astype(np.float32) - truth).mean(2)
    solid = cv2.erode((layer.alpha >= 0.999).astype(np.uint8), np.ones((3, 3), np.uint8))
    carried_solid = cv2.remap(solid, mx, my, cv2.INTER_NEAREST) > 0
    return {"err": err, "band": band & full, "edge": edge & full, "outside": band & full & (am <= 0.02),
            "inside": full & carried_solid, "head": full & (am >= 1.0), "out": out, "img": img, "alpha": alpha, "layer_alpha": layer.alpha}


def test_no_band_of_old_background_travels_with_the_moved_head(moved):
    """Just outside the moved outline the output is the plate. The old layer (grown mask times the
    warped target) carried the stripes there: mean error 14.3 (of 255); this one 0.03."""
    assert moved["outside"].sum() > 200
    assert moved["err"][moved["outside"]].mean() < 2.0


def test_the_moved_outline_is_the_head_over_the_plate(moved):
    """Around the moved outline (its soft edge +- 4 px) the output matches the moved head over
    the plate: mean error 1.8 vs 13.4 for the old layer; on the semi-transparent edge itself
    7.7 vs 28.8 (old background mixed into the edge)."""
    assert moved["err"][moved["band"]].mean() < 4.0
    assert moved["err"][moved["edge"]].mean() < 12.0


def test_the_person_alpha_is_refined_not_grown(moved):
    """The layer's alpha follows the true soft edge more closely than the blurry mask it was given."""
    alpha, mine = moved["alpha"], moved["layer_alpha"]
    seg = _scene()[3]
    ring = cv2.dilate(((alpha > 0.02) & (alpha < 0.98)).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert np.abs(mine - alpha)[ring].mean() < 0.5 * np.abs(seg - alpha)[ring].mean()


def test_inside_the_person_the_warped_image_is_kept(moved):
    """Where the carried alpha is 1 (the face, with its mouth and eye layers) nothing changes;
    that is all of the head but a thin ring at its edge."""
    assert moved["inside"].sum() > 0.9 * moved["head"].sum()
    assert np.array_equal(moved["out"][moved["inside"]], moved["img"][moved["inside"]])


def test_a_still_frame_reproduces_the_target_exactly():
    target, _, _, seg = _scene(seed=1)
    layer = prepare_head(target, seg)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    assert np.array_equal(composite(layer, target, xs, ys), target)
    # a warp that moves only the left half leaves the right half exactly as it was
    mx = np.where(xs < SIZE // 2, xs - 4.0, xs).astype(np.float32)
    out = composite(layer, target, mx, ys)
    assert np.array_equal(out[:, SIZE // 2:], target[:, SIZE // 2:])
    assert not np.array_equal(out[:, : SIZE // 2], target[:, : SIZE // 2])


def test_a_layer_without_a_person_is_all_plate():
    """No person in the mask (nothing to matte): alpha 0, the plate is the image, and a moved
    frame shows the still background, not the warped one."""
    rng = np.random.default_rng(2)
    target = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    layer = prepare_head(target, np.zeros((64, 64), np.float32))
    assert isinstance(layer, HeadLayer) and layer.alpha.max() == 0.0
    assert np.array_equal(layer.plate, target)
    ys, xs = np.mgrid[0:64, 0:64].astype(np.float32)
    warped = cv2.remap(target, xs + 5.0, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out = composite(layer, warped, xs + 5.0, ys)
    inner = border_image((64, 64)) >= 1.0
    assert np.abs(out[inner].astype(int) - target[inner].astype(int)).max() <= 1
