"""The thesis's M: one linear layer over the concatenated W+ codes of E_i(t) and E_m(s).

Keys are the released code's ``MappingNetowrk`` (sic; ``psp_encoders.py``): ``linear_relu.0``
= ``Linear(2·n·512, n·512)`` with no activation, so the released checkpoint's
``mapping_net.*`` loads strictly. Inputs: motion W+ [N, n, 512] and identity W+ [N, n, 512],
flattened and concatenated ([N, 2·n·512]); output W+ [N, n, 512] for G.

Two settings, because the released code and petra's earlier reading of the thesis differ:

* ``order="identity_first"``, ``init="released"`` (the released code, petra's default):
  ``cat(E_i, E_m)``; every weight 1e-5, every bias 1e-3. Both halves get gradient on the
  first step (the output starts near W = 0, not at the identity);
* ``order="motion_first"``, ``init="identity_residual"`` (variant ``ours-text``): ``cat(E_m,
  E_i)``, starting as "keep E_i(t)" (weights eye on the identity half, zero elsewhere), so
  training starts from a perfect-identity reconstruction.

``init="default"`` is PyTorch's Linear init.
"""
from __future__ import annotations

import torch
from torch import nn

ORDERS = ("identity_first", "motion_first")
INITS = ("released", "identity_residual", "default")


class LinearMapping(nn.Module):
    """M(e_m, e_i) = Linear(flatten of the two codes in ``order``) reshaped to W+ (key ``linear_relu.0``)."""

    def __init__(self, n_styles: int = 18, style_dim: int = 512, order: str = "identity_first",
                 init: str = "released") -> None:
        super().__init__()
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}; known: {ORDERS}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; known: {INITS}")
        self.n_styles, self.style_dim, self.order = n_styles, style_dim, order
        d = n_styles * style_dim
        self.linear_relu = nn.Sequential(nn.Linear(2 * d, d))
        lin = self.linear
        with torch.no_grad():
            if init == "released":
                lin.weight.fill_(1e-5)
                lin.bias.fill_(1e-3)
            elif init == "identity_residual":
                lin.weight.zero_()
                ident = slice(0, d) if order == "identity_first" else slice(d, 2 * d)
                lin.weight[:, ident].copy_(torch.eye(d))
                lin.bias.zero_()

    @property
    def linear(self) -> nn.Linear:
        return self.linear_relu[0]

    def forward(self, motion: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        n = motion.shape[0]
        expected = (self.n_styles, self.style_dim)
        if tuple(motion.shape[1:]) != expected or tuple(identity.shape[1:]) != expected:
            raise ValueError(f"expected W+ [N,{expected[0]},{expected[1]}], got {list(motion.shape)} / {list(identity.shape)}")
        parts = (identity, motion) if self.order == "identity_first" else (motion, identity)
        x = torch.cat([p.reshape(n, -1) for p in parts], dim=1)
        return self.linear_relu(x).view(n, self.n_styles, self.style_dim)
