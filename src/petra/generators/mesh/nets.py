"""The trainable parts of the mesh recipe: E_m and M.

``g = G(M(E_m(s) ⊕ E_i(t)), t)`` with the mesh generator (DESIGN.md §1):

* E_i is not a network: it is the frozen mesh fit of the target (canonical
  identity shape, pose, placement) and the target image itself as texture.
* :class:`MotionEncoder` (E_m) reads the *source* mesh fit — its expression
  (canonical points minus their affine neutral, :func:`petra.geometry.motion.neutral_shape`,
  so the person's own proportions do not enter), head pose and iris offsets —
  and returns a motion descriptor ``[B, D]``. Fed the raw canonical points
  (×10, cm), the identity's ±80 offsets dominated the MLP and every descriptor
  pointed the same way (CosFace sat at log(1 + 8e)); the expression input and a
  bias-free last layer keep descriptors apart. The CosFace loss compares their
  directions (it normalises); M reads them unnormalised.
* :class:`MeshMapper` (M) maps ``E_m(s) ⊕ E_i(t)`` to the output mesh as a
  *residual* on a base mesh: the hand-made retargeted transfer
  (:func:`petra.geometry.motion.compose_params`, computed by the recipe) when
  given, else the target's points; plus a pose correction and iris offsets.
* The "Gen" variant's refinement net lives in :mod:`petra.generators.mesh.refine`.

Shapes: canonical points ``[B, 478, 3]`` (unit-scale canonical frame),
pose ``[B, 3]`` (yaw, pitch, roll in degrees / 30), irises ``[B, 4]``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn

N_POINTS = 478
POSE_SCALE = 30.0  # degrees per unit of the pose input
POSE_RESIDUAL = 3.0  # degrees per unit of M's pose correction (the source's pose is already right)


def mlp(sizes: list[int], act: type[nn.Module] = nn.SiLU) -> nn.Sequential:
    """Linear layers with an activation between them (not after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


@lru_cache(maxsize=1)
def neutral_matrix() -> np.ndarray:
    """``[478, 478]`` matrix N with ``neutral_shape(shape) == N @ shape`` (per axis).

    :func:`petra.geometry.motion.neutral_shape` is linear in the shape and treats
    the three axes alike, so applying it to unit columns gives its matrix; torch can
    then take the expression (``shape - N @ shape``) of M's output with gradients.
    """
    from petra.geometry.motion import neutral_shape

    mat = np.zeros((N_POINTS, N_POINTS))
    for j in range(N_POINTS):
        e = np.zeros((N_POINTS, 3))
        e[j] = 1.0
        mat[:, j] = neutral_shape(e)[:, 0]
    return mat


class MotionEncoder(nn.Module):
    """E_m: source mesh fit → motion descriptor ``[B, dim]``.

    Reads the expression ``canon - neutral(canon)`` (cm ×10: the identity's affine
    proportions removed, see the module docstring), pose / 30° and iris offsets.
    """

    def __init__(self, dim: int = 64, hidden: int = 256, n_points: int = N_POINTS) -> None:
        super().__init__()
        self.dim = dim
        self.n_points = n_points
        self.net = mlp([n_points * 3 + 3 + 4, hidden, hidden, dim])
        self.net[-1] = nn.Linear(hidden, dim, bias=False)  # no shared offset all descriptors could point along
        self.register_buffer("neutral", torch.from_numpy(neutral_matrix()).float(), persistent=False)

    def expression(self, canon: torch.Tensor) -> torch.Tensor:
        """``canon - neutral_shape(canon)`` for a batch ``[B, 478, 3]``."""
        return canon - torch.einsum("ij,bjc->bic", self.neutral, canon)

    def forward(self, canon: torch.Tensor, pose: torch.Tensor, iris: torch.Tensor) -> torch.Tensor:
        assert canon.shape[1:] == (self.n_points, 3), canon.shape
        x = torch.cat([self.expression(canon).flatten(1) * 10.0, pose / POSE_SCALE, iris * 10.0], dim=1)
        return self.net(x)


class MeshMapper(nn.Module):
    """M: ``E_m(s) ⊕ E_i(t)`` → output canonical points, pose correction and iris offsets.

    E_i(t) enters as the target's centred canonical points (its proportions). The
    output points are ``base`` + a learned residual, where ``base`` is the hand-made
    transfer's canonical mesh (target identity + retargeted source expression; the
    recipe computes it) or, without one, the target's own points. The heads start
    at zero, so an untrained M *is* the hand-made transfer (with the source's pose).
    """

    def __init__(self, motion_dim: int = 64, id_dim: int = 64, hidden: int = 256, n_points: int = N_POINTS) -> None:
        super().__init__()
        self.n_points = n_points
        self.id_proj = nn.Linear(n_points * 3, id_dim)
        self.trunk = mlp([motion_dim + id_dim, hidden, hidden], act=nn.SiLU)
        self.act = nn.SiLU()
        self.expr = nn.Linear(hidden, n_points * 3)
        self.pose = nn.Linear(hidden, 3)
        self.iris = nn.Linear(hidden, 4)
        for head in (self.expr, self.pose, self.iris):  # start at "target shape, source pose"
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, motion: torch.Tensor, t_canon: torch.Tensor, base: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (canon_out [B,478,3] = base + residual, pose correction [B,3] degrees, iris_out [B,4])."""
        c = t_canon - t_canon.mean(dim=1, keepdim=True)
        h = self.act(self.trunk(torch.cat([motion, self.id_proj(c.flatten(1) * 10.0)], dim=1)))
        canon = (t_canon if base is None else base) + self.expr(h).view(-1, self.n_points, 3) * 0.1
        return canon, self.pose(h) * POSE_RESIDUAL, self.iris(h) * 0.1
