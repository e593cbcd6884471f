"""The thesis's linear M over concatenated W+ codes, in both orders and initialisations."""
from __future__ import annotations

import pytest
import torch

from petra.models.mapping import LinearMapping


def test_identity_residual_init_returns_the_identity_code_and_is_trainable():
    m = LinearMapping(n_styles=4, style_dim=8, order="motion_first", init="identity_residual")
    motion, ident = torch.randn(3, 4, 8), torch.randn(3, 4, 8)
    torch.testing.assert_close(m(motion, ident), ident)
    out = m(motion, ident)
    loss = (out - motion).pow(2).mean()
    loss.backward()
    assert m.linear.weight.grad[:, :32].abs().sum() > 0  # the motion half receives gradient


def test_released_init_is_constant_and_gives_the_motion_half_gradient_on_the_first_step():
    m = LinearMapping(n_styles=4, style_dim=8)
    assert torch.all(m.linear.weight == 1e-5) and torch.all(m.linear.bias == 1e-3)
    motion = torch.randn(3, 4, 8, requires_grad=True)
    ident = torch.randn(3, 4, 8)
    out = m(motion, ident)
    torch.testing.assert_close(out[:, 0, 0], 1e-5 * (motion.sum((1, 2)) + ident.sum((1, 2))) + 1e-3)
    out.pow(2).sum().backward()
    assert motion.grad.abs().sum() > 0  # E_m learns from the first step


@pytest.mark.parametrize("order", ["identity_first", "motion_first"])
def test_mapping_is_one_linear_layer_over_the_concatenation_in_its_order(order):
    m = LinearMapping(n_styles=2, style_dim=3, order=order, init="default")
    motion, ident = torch.randn(1, 2, 3), torch.randn(1, 2, 3)
    first, second = (ident, motion) if order == "identity_first" else (motion, ident)
    manual = m.linear.weight @ torch.cat([first.reshape(-1), second.reshape(-1)]) + m.linear.bias
    torch.testing.assert_close(m(motion, ident).reshape(-1), manual)
    assert [k for k in m.state_dict()] == ["linear_relu.0.weight", "linear_relu.0.bias"]


def test_wrong_code_shape_and_unknown_settings_are_refused():
    m = LinearMapping(n_styles=2, style_dim=3)
    with pytest.raises(ValueError, match="W\\+"):
        m(torch.randn(1, 3, 3), torch.randn(1, 2, 3))
    with pytest.raises(ValueError, match="order"):
        LinearMapping(2, 3, order="sideways")
    with pytest.raises(ValueError, match="init"):
        LinearMapping(2, 3, init="zeros")
