"""Differentiable mesh-warp renderer (torch): the training path.

Builds the same backward sampling field as the fast path (:mod:`petra.generators.mesh.render.warp`)
from torch mesh tensors and applies it with ``grid_sample``, so gradients reach both
meshes (through the per-triangle affine maps, the extension rings and the iris maps)
and the texture. Visibility (which triangle owns a pixel), the atlas and the mouth and
eye layers' masks come from :mod:`petra.generators.mesh.render.plan` without gradients, as in any
rasterizer.

Public entry point for other modules::

    render(target, src_mesh_px, dst_mesh_px, driving=None, driving_mesh_px=None) -> [3, H, W]

``target``/``driving``: float tensors [3, H, W] (any value range, e.g. 0..1);
meshes: [478, 3] pixel tensors (x, y, z; z only orders overlapping triangles).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .eyes import iris_maps
from .field import dense_field_torch, extend_points, topology, triangle_affines
from .interior import composite_torch
from .lidskin import skin_maps
from .plan import FramePlan, TargetPlan, guard_background, plan_frame, prepare_target
from .seams import soften_seams_torch


def _grid_sample(img: Any, mx: Any, my: Any) -> Any:
    """Bilinear sampling of img [3, H, W] at pixel coordinates (align_corners, edge padding)."""
    import torch.nn.functional as F

    h, w = img.shape[-2:]
    gx = mx / max(w - 1, 1) * 2 - 1
    gy = my / max(h - 1, 1) * 2 - 1
    grid = torch_stack([gx, gy], -1)[None]
    return F.grid_sample(img[None], grid, mode="bilinear", padding_mode="border", align_corners=True)[0]


def torch_stack(xs: list[Any], dim: int) -> Any:
    import torch

    return torch.stack(xs, dim)


def backward_map_torch(tp: TargetPlan, fp: FramePlan, src_pts: Any, out_pts: Any) -> tuple[Any, Any]:
    """Atlas coordinates (map_x, map_y) [H, W], differentiable in both meshes."""
    return _backward_map_torch(tp, fp, src_pts, out_pts)[:2]


def _backward_map_torch(tp: TargetPlan, fp: FramePlan, src_pts: Any, out_pts: Any) -> tuple[Any, Any, list]:
    """:func:`backward_map_torch` and the irises' part-covered pixels (as :func:`.warp._backward_map`)."""
    import torch

    topo = topology()
    src_ext, dst_ext = extend_points(src_pts[:, :2], out_pts[:, :2], tp.size)
    aff = triangle_affines(src_ext, dst_ext, topo.triangles, fp.src_triangles)
    field = dense_field_torch(aff, fp.ids, fade=True)
    h, w = tp.size
    mx = field[..., 0].clamp(0.0, w - 1.0)
    my = field[..., 1].clamp(0.0, h - 1.0)
    g = guard_background(tp, fp, mx.detach().cpu().numpy(), my.detach().cpu().numpy())
    if g is not None:
        flat = torch.from_numpy(g[0] * w + g[1]).to(mx.device)
        mx = mx.reshape(-1).index_put((flat,), torch.as_tensor(g[2], dtype=mx.dtype, device=mx.device)).reshape(h, w)
        my = my.reshape(-1).index_put((flat,), torch.as_tensor(g[3], dtype=my.dtype, device=my.device)).reshape(h, w)
    edges = []
    for d in fp.irises:
        ix, iy = iris_maps(out_pts, d)
        ey, ex, cover = d.edge()
        if len(ey):
            ey_t, ex_t = torch.from_numpy(ey).to(mx.device), torch.from_numpy(ex).to(mx.device)
            edges.append((ey_t, ex_t, mx[ey_t, ex_t], my[ey_t, ex_t], cover))
        ys, xs = np.nonzero(d.mask)
        flat = torch.from_numpy((ys + d.y0) * w + (xs + d.x0)).to(mx.device)
        mx = mx.reshape(-1).index_put((flat,), ix).reshape(h, w)
        my = my.reshape(-1).index_put((flat,), iy).reshape(h, w)
    return mx, my, edges


def render_planned(tp: TargetPlan, fp: FramePlan, atlas: Any, src_pts: Any, out_pts: Any,
                   driving: Any | None = None, driving_pts: Any | None = None) -> Any:
    """Render with precomputed plans; ``atlas`` [3, H, W + strip] float tensor (the plan's atlas)."""
    mx, my, edges = _backward_map_torch(tp, fp, src_pts, out_pts)
    img = _grid_sample(atlas, mx, my)
    if edges:  # lids cutting an iris: iris and eyeball mixed by the opening's coverage
        import torch

        img = img.clone()
        for ey, ex, bx, by, cover in edges:
            c = torch.as_tensor(cover, dtype=img.dtype, device=img.device)
            base = _grid_sample(atlas, bx[None], by[None])[:, 0]
            img[:, ey, ex] = c * img[:, ey, ex] + (1.0 - c) * base
    img = soften_seams_torch(img, mx, my, fp.ids)
    if fp.skin:  # closing upper lids: lid skin from the plate (a constant of the step, like the atlas)
        import torch

        scale = 255.0 if float(atlas.detach().max()) > 1.5 else 1.0
        plate = torch.as_tensor(tp.plate, dtype=img.dtype, device=img.device).permute(2, 0, 1) * (scale / 255.0)
        img = img.clone()
        for d in fp.skin:
            sx, sy = skin_maps(src_pts, out_pts, d)
            h, w = d.alpha.shape
            a = torch.as_tensor(d.alpha, dtype=img.dtype, device=img.device)[None]
            region = img[:, d.y0:d.y0 + h, d.x0:d.x0 + w]
            img[:, d.y0:d.y0 + h, d.x0:d.x0 + w] = region + (_grid_sample(plate, sx, sy) - region) * a
    if fp.shut:  # closing eyes: the lids meet in a lash-coloured line
        import torch

        scale = 255.0 if float(atlas.detach().max()) > 1.5 else 1.0
        img = img.clone()
        for e in fp.shut:
            h, w = e.alpha.shape
            a = torch.as_tensor(e.alpha, dtype=img.dtype, device=img.device)[None]
            colour = torch.as_tensor(tp.lash[e.eye] * (scale / 255.0), dtype=img.dtype, device=img.device)[:, None, None]
            region = img[:, e.y0:e.y0 + h, e.x0:e.x0 + w]
            img[:, e.y0:e.y0 + h, e.x0:e.x0 + w] = region + (colour - region) * a
    if driving is not None and driving_pts is not None:
        for d in fp.eyes + ((fp.mouth,) if fp.mouth is not None else ()):  # driving-frame interiors
            img = composite_torch(img, d, driving, driving_pts, out_pts, _grid_sample)
    return img


def atlas_tensor(tp: TargetPlan, target: Any) -> Any:
    """The plan's atlas as a tensor in ``target``'s value range, keeping gradients to ``target``.

    The image part is ``target`` itself wherever the atlas did not paint an iris out, so
    gradients flow to the texture everywhere except inside the painted-out iris disks.
    """
    import torch

    w = tp.size[1]
    scale = 255.0 if float(target.detach().max()) > 1.5 else 1.0
    atlas = torch.as_tensor(tp.atlas, dtype=target.dtype, device=target.device).permute(2, 0, 1) / (255.0 / scale)
    if atlas.shape[-1] == w and not tp.irises:
        return target
    changed = torch.from_numpy(np.any(tp.atlas[:, :w] != _to_uint8(target), axis=2)).to(target.device)
    image = torch.where(changed[None], atlas[:, :, :w], target)
    return torch.cat([image, atlas[:, :, w:]], 2)


def _to_uint8(t: Any) -> np.ndarray:
    a = t.detach().cpu().float().numpy().transpose(1, 2, 0)
    if a.max() <= 1.5:
        a = a * 255.0
    return np.clip(a + 0.5, 0, 255).astype(np.uint8)


def render(target: Any, src_mesh_px: Any, dst_mesh_px: Any, driving: Any | None = None,
           driving_mesh_px: Any | None = None, gaze: bool = True) -> Any:
    """Warp ``target`` [3, H, W] from its mesh ``src_mesh_px`` to ``dst_mesh_px``; returns [3, H, W].

    Differentiable in ``target`` and both meshes. With ``driving`` (+ its mesh) the mouth
    interior is synthesised from the driving frame when the output opens the mouth, and the
    eye interior when the output opens an eye the target keeps closed.
    """
    src_np = src_mesh_px.detach().cpu().double().numpy()
    dst_np = dst_mesh_px.detach().cpu().double().numpy()
    tgt_u8 = _to_uint8(target)
    tp = prepare_target(tgt_u8, src_np, gaze=gaze)
    drv_u8 = _to_uint8(driving) if driving is not None else None
    drv_np = driving_mesh_px.detach().cpu().double().numpy() if driving_mesh_px is not None else None
    fp = plan_frame(tp, dst_np, drv_u8, drv_np)
    return render_planned(tp, fp, atlas_tensor(tp, target), src_mesh_px, dst_mesh_px, driving, driving_mesh_px)
