"""Everything both renderers decide without gradients: target preparation and per-frame visibility.

:func:`prepare_target` runs once per target image (iris atlas, mouth and skin
statistics, which triangles are hidden in the target); :func:`plan_frame` runs once
per output frame (the triangle id map with a per-pixel depth test, iris and mouth layers). The fast renderer
(:mod:`petra.generators.mesh.render.warp`) and the differentiable one (:mod:`petra.generators.mesh.render.torch_warp`)
consume the same plans, which is why they produce the same image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from petra.geometry.canonical import N_REFINED, canonical_face
from petra.geometry.frame import fit_similarity
from .eyes import IrisDraw, IrisPatch, build_atlas, plan_irises
from .field import (Topology, draw_order, extend_depth, extend_points, rasterize_ids, signed_area, similarity_2d,
                    topology)
from .lids import band_stretch
from .lidskin import SkinDraw, plan_skin, skin_plate
from .shut import ShutDraw, lash_colours, lid_gaps, plan_shut
from .eyefill import eye_openings, eye_skin, plan_eyes, usable_openings
from .interior import InteriorDraw, skin_colour
from .mouth import opening, plan_mouth, ring_luma

HIDDEN_RATIO = 0.0    # target triangle area / its mirror twin's below this (back-facing) = hidden in the target
TURNED_YAW = 12.0     # ... when the target's |yaw| exceeds this (degrees)
MIN_TWIN_AREA = 2e-5  # ... and the twin covers at least this fraction of the image
REVEAL_RATIO = 1.5    # used from the twin only when the output shows it this much larger


@dataclass(frozen=True)
class TargetPlan:
    """Per-target precomputation (numpy; no gradients)."""

    size: tuple[int, int]      # (H, W) of the target / output
    points: np.ndarray         # [478, 3] target mesh, px
    atlas: np.ndarray          # [H, W + strip, 3] uint8: irises painted out + iris patches
    irises: list[IrisPatch]
    mouth_open: float
    skin: np.ndarray           # [3] float32
    face_area: np.ndarray      # [n_face] front-facing area (px^2, > 0 when visible) in the target
    twin_area: np.ndarray      # [n_face] the same for each triangle's mirror twin
    hidden: np.ndarray         # [n_face] bool: hidden/foreshortened in the target, twin visible
    person: np.ndarray | None = None   # [H, W] bool person mask of a turned target (else None)
    nearest: np.ndarray | None = None  # [H, W, 2] float32 (x, y) of the nearest person pixel
    ring: np.ndarray | None = None     # [20] skin luminance around the mouth (local colour matching)
    plate: np.ndarray | None = None    # [H, W, 3] uint8: eye openings and lash bands painted out (lidskin.py)
    lash: np.ndarray | None = None     # [2, 3] float32 RGB of each eye's upper lash line (shut.py)
    eye_open: np.ndarray | None = None    # [2] lid gap / eye width per eye (eyefill.py)
    eye_usable: np.ndarray | None = None  # [2] the same where the eye shows an eyeball, else 0
    eye_skin: np.ndarray | None = None    # [2, 3] float32 skin colour around each eye


@dataclass(frozen=True)
class FramePlan:
    """Per-frame visibility decisions."""

    ids: np.ndarray            # [H, W] int32 owning triangle (-1: none)
    src_triangles: np.ndarray  # [T, 3] source-side vertex indices (mirror twins where hidden)
    irises: list[IrisDraw]
    mouth: InteriorDraw | None
    revealed: np.ndarray | None = None  # [H, W] bool: pixels of face triangles the output reveals
    src_ext: np.ndarray | None = None   # [P, 2] extended texture points (numpy; the fast path reuses them)
    dst_ext: np.ndarray | None = None   # [P, 2] extended output points
    skin: tuple[SkinDraw, ...] = ()     # stretched lid bands: where they show the skin plate
    shut: tuple[ShutDraw, ...] = ()     # closing eyes: where the lids meet in a lash-coloured line
    eyes: tuple[InteriorDraw, ...] = ()  # eyes opened beyond the target's: the driver's eye interior


def _check_points(pts: np.ndarray, name: str) -> np.ndarray:
    pts = np.asarray(pts, dtype=np.float64)
    if pts.shape != (N_REFINED, 3):
        raise ValueError(f"{name}: expected [478, 3] mesh points, got {pts.shape}")
    return pts


def prepare_target(target: np.ndarray, points: np.ndarray, gaze: bool = True,
                   mirror_hidden: bool = False, guard: bool = True,
                   person_soft: np.ndarray | None = None) -> TargetPlan:
    """Precompute what every frame of one target needs. target: [H, W, 3] uint8.

    ``guard``: for a turned target, keep revealed face triangles from sampling the
    background (:func:`guard_background`); ``person_soft``: the target's soft person
    mask when the caller has it already (:func:`petra.generators.mesh.render.head.person_mask`).

    ``mirror_hidden`` (experimental, off by default): triangles back-facing in a turned
    target are textured from their mirror twin when the output reveals them. Per-triangle
    switching between the lit and the shaded side of a face looks patchy, so it is off.
    """
    pts = _check_points(points, "target points")
    topo = topology()
    face = topo.triangles[: topo.n_face]
    ext, _ = extend_points(pts[:, :2], pts[:, :2], target.shape[:2])
    area = -signed_area(ext, face)  # > 0 when front-facing (outward = clockwise in image)
    twin = topo.mirror[face][:, ::-1]  # mirroring flips the winding back
    twin_area = -signed_area(ext, twin)
    # Only a turned head hides one side; slivers of a frontal face are not "hidden".
    turned = abs(fit_similarity(pts).euler()[0]) > TURNED_YAW
    big = twin_area > MIN_TWIN_AREA * target.shape[0] * target.shape[1]
    hidden = turned & (area < HIDDEN_RATIO * twin_area) & big & mirror_hidden
    if gaze:
        atlas, irises = build_atlas(target, pts)
    else:
        atlas, irises = np.ascontiguousarray(target), []
    person = nearest = None
    if turned and guard:
        person, nearest = person_and_nearest(target, person_soft)
    return TargetPlan(target.shape[:2], pts, atlas, irises, opening(pts), skin_colour(target, pts), area,
                      twin_area, hidden, person, nearest, ring_luma(target, pts), skin_plate(target, pts),
                      lash_colours(target, pts), eye_openings(pts), usable_openings(pts), eye_skin(target, pts))


def person_and_nearest(rgb: np.ndarray, soft: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Person mask (MediaPipe selfie segmentation) and, per pixel, the nearest person pixel."""
    import cv2

    from .head import person_mask

    person = (person_mask(rgb) if soft is None else soft) > 0.5
    # the mask is soft at the silhouette: pull it in so edge background counts as background
    k = max(3, (max(rgb.shape[:2]) // 64) | 1)
    person = cv2.erode(person.astype(np.uint8), np.ones((k, k), np.uint8)) > 0
    outside = (~person).astype(np.uint8)
    if outside.all() or not outside.any():
        return person, np.dstack(np.meshgrid(np.arange(rgb.shape[1]), np.arange(rgb.shape[0]))).astype(np.float32)
    _, labels = cv2.distanceTransformWithLabels(outside, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    inside = np.argwhere(outside == 0)  # raster order = label order
    yx = inside[labels - 1]
    return person, yx[..., ::-1].astype(np.float32)


def guard_background(tp: TargetPlan, fp: FramePlan, mx: np.ndarray, my: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Revealed face pixels of a turned target that would sample the background.

    MediaPipe puts the far side of a turned face partly over the background; when the
    output turns that side toward the camera those triangles grow and would paint the
    background onto the cheek. Such pixels sample the nearest person pixel instead (a
    skin-coloured smear rather than a hole). Returns (ys, xs, new_x, new_y) or None.
    """
    if tp.person is None or tp.nearest is None or fp.revealed is None or not fp.revealed.any():
        return None
    h, w = tp.size
    ys, xs = np.nonzero(fp.revealed)
    xi = np.clip(np.rint(mx[ys, xs]).astype(int), 0, w - 1)
    yi = np.clip(np.rint(my[ys, xs]).astype(int), 0, h - 1)
    bad = ~tp.person[yi, xi]
    if not bad.any():
        return None
    near = tp.nearest[yi[bad], xi[bad]]
    return ys[bad], xs[bad], near[:, 0], near[:, 1]


def extended(tp: TargetPlan, out_pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return extend_points(tp.points[:, :2], out_pts[:, :2], tp.size)


def plan_frame(tp: TargetPlan, out_pts: np.ndarray, driving: np.ndarray | None = None,
               driving_pts: np.ndarray | None = None, topo: Topology | None = None,
               mouth_interior: bool = True) -> FramePlan:
    """Visibility and layers of one output frame (``out_pts``: [478, 3] output mesh, px).

    With the driving frame and its mesh, the mouth (``mouth_interior``) and eye interiors the
    target cannot show come from the driving frame."""
    out_pts = _check_points(out_pts, "output points")
    topo = topo or topology()
    src_ext, dst_ext = extended(tp, out_pts)
    depth = extend_depth(out_pts[:, 2])
    order, n_front = draw_order(dst_ext, depth, topo)
    ids = rasterize_ids(dst_ext, order, topo.triangles, tp.size, depth, n_front)
    src_tris = topo.triangles.copy()
    if tp.hidden.any():
        face = topo.triangles[: topo.n_face]
        out_area = -signed_area(dst_ext, face)
        use_twin = tp.hidden & (out_area > REVEAL_RATIO * np.maximum(tp.face_area, 0.0)) & (out_area > 1.0)
        use_twin &= out_area > 0.5 * tp.twin_area
        src_tris[: topo.n_face][use_twin] = topo.mirror[face[use_twin]]
    revealed = None
    if tp.person is not None:
        face = topo.triangles[: topo.n_face]
        out_area = -signed_area(dst_ext, face)
        rev = (out_area > REVEAL_RATIO * np.maximum(tp.face_area, 0.0)) & (out_area > 4.0)
        table = np.zeros(len(topo.triangles) + 1, bool)
        table[: topo.n_face] = rev
        revealed = table[ids]  # ids == -1 picks the trailing False
    irises = plan_irises(out_pts, tp.irises, tp.size)
    mouth = None
    eyes: tuple[InteriorDraw, ...] = ()
    if driving is not None and driving_pts is not None:
        drv_pts = _check_points(driving_pts, "driving points")
        if mouth_interior:
            mouth = plan_mouth(out_pts, drv_pts, driving, tp.mouth_open, tp.skin, tp.size, tp.ring)
        if tp.eye_open is not None and tp.eye_usable is not None and tp.eye_skin is not None:
            eyes = plan_eyes(out_pts, drv_pts, driving, tp.eye_open, tp.eye_usable, tp.skin, tp.eye_skin, tp.size)
    rigid = canonical_face().rigid
    a, b, _ = similarity_2d(tp.points[rigid, :2], out_pts[rigid, :2])
    scale = float(np.hypot(a, b))
    skin: tuple[SkinDraw, ...] = ()
    if tp.plate is not None:
        skin = tuple(plan_skin(ids, band_stretch(tp.points[:, :2], out_pts[:, :2], scale), dst_ext))
    shut: tuple[ShutDraw, ...] = ()
    if tp.lash is not None:
        shut = tuple(plan_shut(ids, lid_gaps(tp.points[:, :2], out_pts[:, :2], scale), dst_ext))
    return FramePlan(ids, src_tris, irises, mouth, revealed, src_ext, dst_ext, skin, shut, eyes)
