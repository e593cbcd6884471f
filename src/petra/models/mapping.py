"""The thesis's M: one linear layer over the concatenated W+ codes E_m(s) ⊕ E_i(t).

Input: motion W+ [N, n_styles, 512] and identity W+ [N, n_styles, 512], flattened and
concatenated ([N, 2·n_styles·512]); output: W+ [N, n_styles, 512] for G. With
``init="identity_residual"`` the layer starts as "keep the identity code" (output =
E_i(t)), so training begins from a perfect-identity reconstruction and learns the
motion edit; ``init="default"`` is PyTorch's Linear init.
"""
from __future__ import annotations

import torch
from torch import nn


class LinearMapping(nn.Module):
    """M(e_m ⊕ e_i) = Linear(flatten(e_m) ⊕ flatten(e_i)) reshaped to W+ (key ``linear``)."""

    def __init__(self, n_styles: int = 18, style_dim: int = 512, init: str = "identity_residual") -> None:
        super().__init__()
        self.n_styles = n_styles
        self.style_dim = style_dim
        d = n_styles * style_dim
        self.linear = nn.Linear(2 * d, d)
        if init == "identity_residual":
            with torch.no_grad():
                self.linear.weight.zero_()
                self.linear.weight[:, d:].copy_(torch.eye(d))
                self.linear.bias.zero_()
        elif init != "default":
            raise ValueError(f"unknown init {init!r}")

    def forward(self, motion: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        n = motion.shape[0]
        expected = (self.n_styles, self.style_dim)
        if tuple(motion.shape[1:]) != expected or tuple(identity.shape[1:]) != expected:
            raise ValueError(f"expected W+ [N,{expected[0]},{expected[1]}], got {list(motion.shape)} / {list(identity.shape)}")
        x = torch.cat([motion.reshape(n, -1), identity.reshape(n, -1)], dim=1)
        return self.linear(x).view(n, self.n_styles, self.style_dim)
