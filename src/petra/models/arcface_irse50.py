"""IR-SE50 ArcFace (TreB1eN ``Backbone(50, 0.6, 'ir_se')``) and pSp's ID-loss preprocessing.

Keys match ``model_ir_se50.pth`` (``input_layer.*``, ``body.*``, ``output_layer.{0,3,4}``),
which pSp/ReStyle use for their ID loss and petra uses for the identity loss and the
ID-CSIM (ArcFace) metric. Input: RGB in [-1, 1], [N, 3, 112, 112]; output: unit-norm
embeddings [N, 512]. ``extract_feats`` is pSp's ``IDLoss.extract_feats`` for 256-px
FFHQ-aligned crops: rows 35:223, cols 32:220, adaptive average pool to 112.
"""
from __future__ import annotations

import torch
from torch import nn

from .irse import Flatten, l2_norm, make_body, make_input_layer
from petra.safeload import safe_torch_load


class Backbone(nn.Module):
    """TreB1eN ``Backbone(num_layers, drop_ratio, mode)`` for 112-px input."""

    def __init__(self, num_layers: int = 50, drop_ratio: float = 0.6, mode: str = "ir_se", affine: bool = True) -> None:
        super().__init__()
        self.input_layer = make_input_layer(3)
        self.body = make_body(num_layers, mode)
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(512), nn.Dropout(drop_ratio), Flatten(),
            nn.Linear(512 * 7 * 7, 512), nn.BatchNorm1d(512, affine=affine),
        )

    def embed_unnormalised(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the BatchNorm1d before l2_norm, [N, 512]."""
        return self.output_layer(self.body(self.input_layer(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (112, 112):
            raise ValueError(f"ArcFace expects [N,3,112,112], got {list(x.shape)}")
        return l2_norm(self.embed_unnormalised(x))


def extract_feats(facenet: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """pSp ``IDLoss.extract_feats``: x [N,3,256,256] in [-1,1] → embeddings [N,512]."""
    x = x[:, :, 35:223, 32:220]
    x = nn.functional.adaptive_avg_pool2d(x, (112, 112))
    return facenet(x)


class IDLoss(nn.Module):
    """pSp/ReStyle identity loss: mean(1 − <f(ŷ), f(y)>) over the batch, facenet frozen (eval)."""

    def __init__(self, facenet: Backbone) -> None:
        super().__init__()
        self.facenet = facenet.eval()
        for p in self.facenet.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> IDLoss:
        super().train(mode)
        self.facenet.eval()  # BN statistics and dropout stay frozen, as in pSp
        return self

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Returns (loss, sim_improvement) exactly as pSp (improvement = <ŷ,y> − <y,x>)."""
        x_feats = extract_feats(self.facenet, x)
        y_feats = extract_feats(self.facenet, y).detach()
        y_hat_feats = extract_feats(self.facenet, y_hat)
        diff_target = (y_hat_feats * y_feats).sum(1)
        diff_views = (y_feats * x_feats).sum(1)
        loss = (1 - diff_target).mean()
        sim_improvement = float((diff_target.detach() - diff_views.detach()).mean())
        return loss, sim_improvement


def load_arcface(path: str, sha256: str | None = None) -> Backbone:
    """``model_ir_se50.pth`` (a plain state_dict) → eval-mode Backbone."""

    net = Backbone(50, 0.6, "ir_se")
    net.load_state_dict(safe_torch_load(path, sha256=sha256), strict=True)
    return net.eval()
