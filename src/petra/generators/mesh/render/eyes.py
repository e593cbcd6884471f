"""Gaze: moving the target's irises inside its eyes.

The warp alone would drag an iris with the eyeball's triangles; to follow the
source's gaze instead, the target texture is split once per target into

- the eyeball with the iris painted out (``cv2.inpaint`` over the iris disk, inside
  the eye opening), used by the ordinary warp, and
- an iris patch per eye (the parts hidden under the lids filled in from the visible
  iris), stored in a strip to the right of the texture (the *atlas*),

and at render time the pixels of each output iris disk that fall inside the output
eye opening sample the patch instead (a translation + scale map, so the iris keeps
its look and follows the output iris centre).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from petra.geometry.canonical import IRIS_LEFT, IRIS_RIGHT, canonical_face
from .lids import _xp

EYES = (("eye_right", IRIS_RIGHT), ("eye_left", IRIS_LEFT))
MIN_OPEN = 0.35  # eye opening / iris diameter below which the target eye counts as closed
SHUT_OPEN = 0.15  # output eye opening / iris diameter below which no iris is drawn (the lids meet in a
                  # lash line, shut.py; an anti-aliased sliver of iris there read as an open eye)
RING = 1.15      # iris radii painted out and drawn: the patch holds a ring of the target's own sclera, so
                 # the drawn disk's pixel edge falls on sclera next to sclera, not on the iris's edge


@dataclass(frozen=True)
class IrisPatch:
    """One target iris stored in the atlas strip."""

    eye: str                 # "eye_right" | "eye_left"
    iris: np.ndarray         # the 5 iris vertex indices (centre first)
    centre: np.ndarray       # [2] centre of the patch in atlas pixels
    radius: float            # target iris radius (px)


def iris_radius(pts: np.ndarray, iris: np.ndarray) -> float:
    return float(np.linalg.norm(pts[iris[1:], :2] - pts[iris[0], :2], axis=1).mean())


def has_eyeball(pts: np.ndarray, eye: str, iris: np.ndarray) -> bool:
    """Whether the eye ``eye`` (with iris vertices ``iris``) of mesh ``pts`` [478, >=2] shows an
    eyeball: an iris of at least 2 px radius and an opening of at least MIN_OPEN iris diameters."""
    r = iris_radius(pts, iris)
    loop = canonical_face().loops[eye]
    return bool(r >= 2.0 and pts[loop, 1].max() - pts[loop, 1].min() >= MIN_OPEN * 2 * r)


def eye_polygon_mask(pts: np.ndarray, loop: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    m = np.zeros(size, np.uint8)
    cv2.fillPoly(m, [np.round(pts[loop, :2] * 16).astype(np.int32)], 255, lineType=cv2.LINE_8, shift=4)
    return m


def build_atlas(target: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, list[IrisPatch]]:
    """Atlas = target with irises painted out + a strip holding the iris patches.

    target: [H, W, 3] uint8; pts: [478, 3] target mesh (px). Eyes that are closed in the
    target (or tiny) get no patch: their gaze is not transferred.
    """
    import cv2

    h, w = target.shape[:2]
    cf = canonical_face()
    base = target.copy()
    patches: list[tuple[str, np.ndarray, np.ndarray, float]] = []
    for eye, iris in EYES:
        if not has_eyeball(pts, eye, iris):
            continue
        r = iris_radius(pts, iris)
        opening = eye_polygon_mask(pts, cf.loops[eye], (h, w))
        c = pts[iris[0], :2]
        disk = np.zeros((h, w), np.uint8)
        cv2.circle(disk, tuple(np.round(c * 16).astype(int)), int(round(r * RING * 16)), 255, -1, cv2.LINE_8, 4)
        hole = cv2.bitwise_and(disk, cv2.dilate(opening, np.ones((3, 3), np.uint8)))
        half = int(np.ceil(r * 1.3)) + 1
        x0, y0 = int(round(c[0])) - half, int(round(c[1])) - half
        patch = _crop(target, x0, y0, 2 * half + 1)
        vis = _crop(cv2.bitwise_and(disk, opening)[..., None], x0, y0, 2 * half + 1)[..., 0]
        if (vis > 0).sum() > 4:
            vis = mirror_hidden(patch, vis, c - (x0, y0), RING * r)
            patch = cv2.inpaint(patch, ((vis == 0) * 255).astype(np.uint8), 2, cv2.INPAINT_TELEA)
        base = cv2.inpaint(base, hole, 3, cv2.INPAINT_TELEA)
        sclera_fill(base, hole, opening, max(r, 1.5))
        patches.append((eye, iris, patch, r))
    side = max([p[2].shape[0] for p in patches], default=0)
    strip = np.zeros((h, side + 4, 3), np.uint8) if patches else np.zeros((h, 0, 3), np.uint8)
    out: list[IrisPatch] = []
    y = 2
    for eye, iris, patch, r in patches:
        n = patch.shape[0]
        if y + n + 2 > h:
            break
        strip[y:y + n, 2:2 + n] = patch
        out.append(IrisPatch(eye, iris, np.array([w + 2 + n // 2, y + n // 2], np.float64), r))
        y += n + 4
    return np.ascontiguousarray(np.concatenate([base, strip], 1)), out


def mirror_hidden(patch: np.ndarray, vis: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """In place: the iris pixels of ``patch`` [n, n, 3] the target's lids hid (``vis`` 0) taken from
    their mirror image across the horizontal line through the iris ``centre`` (patch px), where
    that is visible; returns the grown visibility. An iris is nearly symmetric about that line
    and the lids hide its top or its bottom: a widened eye then shows iris texture, limbus and
    all, where an inpainting from the lid's cut would draw a flat, straight-edged band."""
    n = patch.shape[0]
    yy, xx = np.mgrid[0:n, 0:n]
    my = np.round(2.0 * centre[1] - yy).astype(int)
    ok = ((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= radius * radius) & (vis == 0) & (my >= 0) & (my < n)
    ok[ok] = vis[my[ok], xx[ok]] > 0
    patch[ok] = patch[my[ok], xx[ok]]
    grown = vis.copy()
    grown[ok] = 255
    return grown


def sclera_fill(img: np.ndarray, hole: np.ndarray, opening: np.ndarray, sigma: float) -> None:
    """In place: the painted-out iris pixels inside the eye opening from the eye's own white.

    ``cv2.inpaint`` fills the hole from all around it, lashes and lid shadow included: a gaze
    that moves the iris away uncovered a brownish smudge where it was (a ghost iris). Here
    the fill is a normalised Gaussian average (``sigma`` px) of the opening's visible pixels
    without its darkest 30 % (lashes, corners); pixels too far from any keep the inpainting.
    """
    import cv2

    src = (opening > 0) & (hole == 0)
    if src.sum() < 6:
        return
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    w = (src & (grey >= np.percentile(grey[src], 30))).astype(np.float32)
    num = cv2.GaussianBlur(img.astype(np.float32) * w[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(w, (0, 0), sigma)
    ok = (hole > 0) & (opening > 0) & (den > 0.02 * den.max())
    img[ok] = np.clip(num[ok] / den[ok, None] + 0.5, 0, 255).astype(np.uint8)


def _crop(img: np.ndarray, x0: int, y0: int, n: int) -> np.ndarray:
    """n x n crop at (x0, y0) with edge replication outside the image."""
    import cv2

    pad = n + 2
    big = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    if big.ndim == 2:
        big = big[..., None]
    return np.ascontiguousarray(big[y0 + pad:y0 + pad + n, x0 + pad:x0 + pad + n])


@dataclass(frozen=True)
class IrisDraw:
    """Where one output iris goes: bbox in the output, the pixels (mask) it covers, and how much
    of each the eye opening covers (anti-aliased: the lids cut the iris with a smooth edge)."""

    patch: IrisPatch
    y0: int
    x0: int
    mask: np.ndarray   # [h, w] bool inside the bbox
    cover: np.ndarray  # [h, w] float32 0..1: the opening's coverage of each pixel (1 inside)

    def edge(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, coverage) of the drawn pixels the lids cover in part (output pixels)."""
        ys, xs = np.nonzero(self.mask & (self.cover < 1.0))
        return ys + self.y0, xs + self.x0, self.cover[ys, xs]


def plan_irises(out_pts: np.ndarray, patches: list[IrisPatch], size: tuple[int, int]) -> list[IrisDraw]:
    """Output iris disks clipped to the output eye openings (no gradients)."""
    import cv2

    cf = canonical_face()
    h, w = size
    draws = []
    for p in patches:
        c = out_pts[p.iris[0], :2]
        r = iris_radius(out_pts, p.iris)
        loop = cf.loops[p.eye]
        if out_pts[loop, 1].max() - out_pts[loop, 1].min() < SHUT_OPEN * 2 * r:
            continue
        rd = RING * r
        x0 = int(np.floor(min(c[0] - rd, out_pts[loop, 0].min()))) - 1
        y0 = int(np.floor(min(c[1] - rd, out_pts[loop, 1].min()))) - 1
        x1 = int(np.ceil(max(c[0] + rd, out_pts[loop, 0].max()))) + 2
        y1 = int(np.ceil(max(c[1] + rd, out_pts[loop, 1].max()))) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2 or r < 1.0:
            continue
        shift = np.array([x0, y0], np.float64)
        opening = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(opening, [np.round((out_pts[loop, :2] - shift) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        disk = (xx - c[0]) ** 2 + (yy - c[1]) ** 2 <= rd * rd
        mask = disk & (opening > 0)
        if mask.any():
            draws.append(IrisDraw(p, y0, x0, mask, opening.astype(np.float32) / 255.0))
    return draws


def iris_maps(out_pts: object, draw: IrisDraw) -> tuple[object, object]:
    """Atlas coordinates (map_x, map_y) for the masked pixels of one iris (numpy or torch points)."""
    xp = _xp(out_pts)
    p = draw.patch
    c = out_pts[p.iris[0], :2]
    ring = out_pts[p.iris[1:], :2] - c
    r = ((ring ** 2).sum(1) ** 0.5).mean()
    k = p.radius / r
    ys, xs = np.nonzero(draw.mask)
    if xp is np:
        xs_, ys_ = (xs + draw.x0).astype(np.float64), (ys + draw.y0).astype(np.float64)
    else:
        xs_ = xp.as_tensor(xs + draw.x0, dtype=out_pts.dtype, device=out_pts.device)
        ys_ = xp.as_tensor(ys + draw.y0, dtype=out_pts.dtype, device=out_pts.device)
    return p.centre[0] + (xs_ - c[0]) * k, p.centre[1] + (ys_ - c[1]) * k
