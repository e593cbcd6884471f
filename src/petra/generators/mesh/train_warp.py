"""The differentiable projection the mesh recipe needs per step.

:func:`euler_to_rotation` / :func:`project`: torch versions of
:mod:`petra.geometry.frame`'s conventions (``R = Rz(roll) Ry(yaw) Rx(-pitch)``,
``camera = s R canon + t``, image = camera with y and z flipped), so a mesh from M
becomes image points with gradients to pose and shape (the image itself is rendered
by :mod:`petra.generators.mesh.render.torch_warp`).
"""
from __future__ import annotations

import torch

FLIP_YZ = (1.0, -1.0, -1.0)


def euler_to_rotation(angles: torch.Tensor) -> torch.Tensor:
    """angles [B, 3] (yaw, pitch, roll; degrees) -> R [B, 3, 3] (see petra.geometry.frame)."""
    y, p, r = (torch.deg2rad(angles[:, 0]), torch.deg2rad(-angles[:, 1]), torch.deg2rad(angles[:, 2]))
    o, z = torch.ones_like(y), torch.zeros_like(y)
    rx = torch.stack([o, z, z, z, p.cos(), -p.sin(), z, p.sin(), p.cos()], 1).view(-1, 3, 3)
    ry = torch.stack([y.cos(), z, y.sin(), z, o, z, -y.sin(), z, y.cos()], 1).view(-1, 3, 3)
    rz = torch.stack([r.cos(), -r.sin(), z, r.sin(), r.cos(), z, z, z, o], 1).view(-1, 3, 3)
    return rz @ ry @ rx


def project(canon: torch.Tensor, angles: torch.Tensor, scale: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """Canonical points [B, N, 3] posed by (angles [B,3], scale [B], trans [B,3]) -> image [B, N, 3]."""
    rot = euler_to_rotation(angles)
    cam = scale[:, None, None] * canon @ rot.transpose(1, 2) + trans[:, None, :]
    return cam * cam.new_tensor(FLIP_YZ)
