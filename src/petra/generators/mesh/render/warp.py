"""Fast mesh-warp renderer (numpy + OpenCV): the inference path.

Same field and layers as :mod:`petra.generators.mesh.render.torch_warp` (both consume
:mod:`petra.generators.mesh.render.plan`), applied with ``cv2.remap`` instead of ``grid_sample``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .eyes import iris_maps
from .field import dense_field_np, topology, triangle_affines
from .interior import composite_np
from .lidskin import skin_maps
from .plan import FramePlan, TargetPlan, extended, guard_background, plan_frame, prepare_target
from .seams import soften_seams


def backward_map(tp: TargetPlan, fp: FramePlan, out_pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Atlas sampling coordinates (map_x, map_y) [H, W] float32 for one frame."""
    return _backward_map(tp, fp, out_pts)[:2]


IrisEdge = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # rows, cols, base x, base y, cover


def _backward_map(tp: TargetPlan, fp: FramePlan, out_pts: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, list[IrisEdge]]:
    """:func:`backward_map` and, per iris, its pixels the lids cover in part with the warp's own
    coordinates there (the render blends iris and eyeball by the coverage)."""
    topo = topology()
    src_ext, dst_ext = (fp.src_ext, fp.dst_ext) if fp.dst_ext is not None else extended(tp, out_pts)
    aff = triangle_affines(src_ext, dst_ext, topo.triangles, fp.src_triangles)
    mx, my = dense_field_np(aff, fp.ids, fade=True)
    h, w = tp.size
    np.clip(mx, 0.0, w - 1.0, out=mx)  # the atlas strip right of the image is for irises only
    np.clip(my, 0.0, h - 1.0, out=my)
    g = guard_background(tp, fp, mx, my)
    if g is not None:
        mx[g[0], g[1]] = g[2]
        my[g[0], g[1]] = g[3]
    edges: list[IrisEdge] = []
    for d in fp.irises:
        ix, iy = iris_maps(out_pts, d)
        ey, ex, cover = d.edge()
        if len(ey):
            edges.append((ey, ex, mx[ey, ex].copy(), my[ey, ex].copy(), cover))
        ys, xs = np.nonzero(d.mask)
        mx[ys + d.y0, xs + d.x0] = ix
        my[ys + d.y0, xs + d.x0] = iy
    return mx, my, edges


def blend_iris_edges(img: np.ndarray, atlas: np.ndarray, edges: list[IrisEdge]) -> None:
    """In place: where a lid covers part of an iris pixel, mix the iris with the eyeball under it."""
    import cv2

    for ey, ex, bx, by, cover in edges:
        base = cv2.remap(atlas, bx[None].astype(np.float32), by[None].astype(np.float32), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)[0].astype(np.float32)
        c = cover[:, None]
        img[ey, ex] = np.clip(c * img[ey, ex] + (1.0 - c) * base + 0.5, 0, 255).astype(np.uint8)


def render_np(tp: TargetPlan, fp: FramePlan, out_pts: np.ndarray, driving: np.ndarray | None = None,
              driving_pts: np.ndarray | None = None, return_maps: bool = False) -> Any:
    """Render one frame as RGB uint8 [H, W, 3] from precomputed plans (+ the backward maps)."""
    import cv2

    mx, my, edges = _backward_map(tp, fp, out_pts)
    img = cv2.remap(tp.atlas, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    blend_iris_edges(img, tp.atlas, edges)
    soften_seams(img, mx, my, fp.ids)
    for d in fp.skin:  # closing upper lids: lid skin from the plate
        sx, sy = skin_maps(tp.points, out_pts, d)
        h, w = d.alpha.shape
        layer = cv2.remap(tp.plate, sx.astype(np.float32), sy.astype(np.float32), cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        region = img[d.y0:d.y0 + h, d.x0:d.x0 + w].astype(np.float32)
        img[d.y0:d.y0 + h, d.x0:d.x0 + w] = np.clip(region + (layer - region) * d.alpha[..., None] + 0.5,
                                                   0, 255).astype(np.uint8)
    for e in fp.shut:  # closing eyes: the lids meet in a lash-coloured line
        h, w = e.alpha.shape
        region = img[e.y0:e.y0 + h, e.x0:e.x0 + w].astype(np.float32)
        img[e.y0:e.y0 + h, e.x0:e.x0 + w] = np.clip(region + (tp.lash[e.eye] - region) * e.alpha[..., None] + 0.5,
                                                   0, 255).astype(np.uint8)
    if driving is not None and driving_pts is not None:
        for d in fp.eyes + ((fp.mouth,) if fp.mouth is not None else ()):  # driving-frame interiors
            composite_np(img, d, driving, driving_pts, out_pts)
            if return_maps:  # mark the layer as "moved" for paste-back masks
                h, w = d.ids.shape
                mx[d.y0:d.y0 + h, d.x0:d.x0 + w][d.alpha > 0.01] += 1.0
    return (img, (mx, my)) if return_maps else img


class MeshWarper:
    """Render one target under many output meshes (target-side work done once).

    ``head``: composite the warped person over a background plate (:mod:`petra.generators.mesh.render.head`),
    so the background stays still and what the moving head reveals is filled; ``mouth``: the
    driving frame's mouth interior where the output opens the mouth.
    """

    def __init__(self, target: np.ndarray, target_pts: np.ndarray, gaze: bool = True, head: bool = False,
                 mouth: bool = True) -> None:
        from .head import person_mask, prepare_head

        soft = person_mask(target) if head else None
        self.plan = prepare_target(target, target_pts, gaze=gaze, person_soft=soft)
        self.head = prepare_head(target, soft) if head else None
        self.mouth = mouth  # the driving frame's mouth interior (mesh.mouth_interior)
        self.last_maps: tuple[np.ndarray, np.ndarray] | None = None  # backward map of the last frame

    def detail_maps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The last frame's plain warp (the atlas sampled by its backward map, before any layer)
        and that map taken into the target crop (iris patches back to where the iris is), for
        :func:`~petra.generators.mesh.render.composite.paste_back`'s photo detail."""
        import cv2

        assert self.last_maps is not None, "render first"
        mx, my = self.last_maps
        tp = self.plan
        plain = cv2.remap(tp.atlas, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        w = tp.size[1]
        strip = mx > w - 1
        if not strip.any() or not tp.irises:
            return plain, mx, my
        cx, cy = mx.copy(), my.copy()
        centres = np.array([p.centre for p in tp.irises])  # atlas px
        near = np.argmin((mx[strip, None] - centres[None, :, 0]) ** 2 + (my[strip, None] - centres[None, :, 1]) ** 2, 1)
        home = np.round(np.array([tp.points[p.iris[0], :2] for p in tp.irises]))  # the patch's centre in the crop
        shift = (centres - home).astype(np.float32)
        cx[strip] -= shift[near, 0]
        cy[strip] -= shift[near, 1]
        return plain, cx, cy

    def render(self, out_pts: np.ndarray, driving: np.ndarray | None = None,
               driving_pts: np.ndarray | None = None) -> np.ndarray:
        """RGB uint8 [H, W, 3]; the mouth and eye interiors need the driving frame and its mesh."""
        fp = plan_frame(self.plan, out_pts, driving, driving_pts, mouth_interior=self.mouth)
        img, self.last_maps = render_np(self.plan, fp, out_pts, driving, driving_pts, return_maps=True)
        if self.head is not None:
            from .head import composite

            img = composite(self.head, img, *self.last_maps)
        return img
