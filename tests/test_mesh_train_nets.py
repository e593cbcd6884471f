"""E_m, M and the refinement net: shapes, starting points and that they can learn."""
from __future__ import annotations

import torch

from petra.generators.mesh.nets import MeshMapper, MotionEncoder
from petra.generators.mesh.refine.net import RefineNet


def test_mapper_starts_at_the_target_shape() -> None:
    torch.manual_seed(0)
    em, m = MotionEncoder(dim=16, hidden=32), MeshMapper(motion_dim=16, id_dim=8, hidden=32)
    canon = torch.randn(4, 478, 3)
    z = em(canon, torch.randn(4, 3) * 10, torch.randn(4, 4))
    assert z.shape == (4, 16)
    assert torch.isfinite(z).all() and z.std() > 0
    t = torch.randn(4, 478, 3)
    out, pose, iris = m(z, t)
    assert out.shape == (4, 478, 3) and pose.shape == (4, 3) and iris.shape == (4, 4)
    assert torch.equal(out, t)  # zero-initialised expression head: output = target proportions


def test_refine_net_is_identity_at_init_and_learns_to_darken_a_region() -> None:
    torch.manual_seed(0)
    net = RefineNet(width=8)
    x = torch.rand(2, 8, 32, 32) * 2 - 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 12:20, 8:24] = 1
    x[:, 7:8] = mask  # the region-mask channel tells the net where
    base = x[:, :3]
    assert torch.allclose(net(x), base.clamp(-1, 1))
    target = torch.where(mask.bool().expand_as(base), torch.full_like(base, -1.0), base)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        loss = (net(x) - target).abs().mean()
        first = first if first is not None else float(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.5 * first


def test_encoder_and_mapper_fit_a_motion_transfer_task() -> None:
    """E_m + M learn to copy a source's expression offset onto another target shape."""
    torch.manual_seed(0)
    em, m = MotionEncoder(dim=16, hidden=64), MeshMapper(motion_dim=16, id_dim=8, hidden=64)
    basis = torch.randn(3, 478, 3) * 0.05
    id_basis = torch.randn(4, 478, 3) * 0.1  # identities vary in a few directions, like real faces
    opt = torch.optim.Adam([*em.parameters(), *m.parameters()], lr=3e-3)
    losses = []
    for _ in range(400):
        ids = torch.einsum("bk,kpc->bpc", torch.randn(16, 4), id_basis)
        coef = torch.rand(16, 3)
        expr = torch.einsum("bk,kpc->bpc", coef, basis)
        src = ids.roll(1, 0) + expr
        out, _, _ = m(em(src, torch.zeros(16, 3), torch.zeros(16, 4)), ids)
        loss = ((out - (ids + expr)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert sum(losses[-20:]) / 20 < 0.1 * sum(losses[:20]) / 20
