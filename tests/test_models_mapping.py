"""The thesis's linear M over concatenated W+ codes."""
from __future__ import annotations

import pytest
import torch

from petra.models.mapping import LinearMapping


def test_identity_residual_init_returns_the_identity_code_and_is_trainable():
    m = LinearMapping(n_styles=4, style_dim=8)
    motion, ident = torch.randn(3, 4, 8), torch.randn(3, 4, 8)
    torch.testing.assert_close(m(motion, ident), ident)
    out = m(motion, ident)
    loss = (out - motion).pow(2).mean()
    loss.backward()
    assert m.linear.weight.grad[:, :32].abs().sum() > 0  # the motion half receives gradient


def test_mapping_is_one_linear_layer_over_the_concatenation():
    m = LinearMapping(n_styles=2, style_dim=3, init="default")
    motion, ident = torch.randn(1, 2, 3), torch.randn(1, 2, 3)
    manual = m.linear.weight @ torch.cat([motion.reshape(-1), ident.reshape(-1)]) + m.linear.bias
    torch.testing.assert_close(m(motion, ident).reshape(-1), manual)
    assert [k for k in m.state_dict()] == ["linear.weight", "linear.bias"]


def test_wrong_code_shape_is_refused():
    m = LinearMapping(n_styles=2, style_dim=3)
    with pytest.raises(ValueError, match="W\\+"):
        m(torch.randn(1, 3, 3), torch.randn(1, 2, 3))
