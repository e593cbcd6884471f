"""OpenGraphAU action units (Luo et al., IJCAI 2022): the stage-1 ``MEFARG`` (ANFL head) on a ResNet.

The thesis's FAU-CORR uses OpenGraphAU's 41 action-unit probabilities (27 main AUs and
14 left/right sub-AUs). Module names reproduce the official ``OpenGraphAU/model/ANFL.py``
(CVI-SZU/ME-GraphAU, mirrored as lingjivoo/OpenGraphAU), so the released checkpoints
``OpenGprahAU-ResNet{18,50}_first_stage.pth`` load with ``strict=True``:

- ``backbone``: torchvision-layout ResNet without ``fc`` → tokens [N, H·W, C];
- ``global_linear``: LinearBlock C → C/4 (Linear, BatchNorm1d over channels, ReLU);
- ``head.main_class_linears.{0..26}``: one LinearBlock per main AU (AFG), averaged over tokens;
- ``head.gnn``: FGG — top-k (k=4) dot-product graph, symmetric degree normalisation,
  ``x + BN(A·V(x) + U(x))`` → ReLU;
- ``head.main_sc`` / ``head.sub_sc``: per-AU class vectors; each output is the cosine of the
  node feature with its ReLU'd class vector (sub-AUs use their parent's node ``sub_list``).

The outputs are used as probabilities as they are (the official demo thresholds them at
0.5 and the training loss takes them as p). Preprocessing: Resize(256) → CenterCrop(224) →
ImageNet normalisation (official ``utils.image_eval``). Only stage 1 has released weights;
the Swin-Transformer backbones are not ported.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .au_labels import AU_CODES  # noqa: F401  (the output order, re-exported)
from .resnet import ARCHS, ResNetTrunk, block_class, resize_center_crop
from petra.errors import PetraError
from petra.safeload import safe_torch_load

N_MAIN, N_SUB = 27, 14
SUB_PARENTS = (0, 1, 2, 4, 7, 8, 11)  # main-AU node of each (left, right) sub-AU pair: AU1, 2, 4, 6, 10, 12, 14


class LinearBlock(nn.Module):
    """Linear over the last axis, then BatchNorm1d over channels and ReLU: [N, T, C_in] → [N, T, C_out]."""

    def __init__(self, in_features: int, out_features: int | None = None, drop: float = 0.0) -> None:
        super().__init__()
        out_features = out_features or in_features
        self.fc = nn.Linear(in_features, out_features)
        self.bn = nn.BatchNorm1d(out_features)
        self.relu = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(drop)
        nn.init.normal_(self.fc.weight, 0.0, math.sqrt(2.0 / out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc(self.drop(x)).permute(0, 2, 1)
        return self.relu(self.bn(x)).permute(0, 2, 1)


def normalize_digraph(adj: torch.Tensor) -> torch.Tensor:
    """D^-1/2 · A · D^-1/2 with D the out-degrees (rows): [N, n, n] → [N, n, n]."""
    d = adj.sum(dim=-1).pow(-0.5)
    return d.unsqueeze(-1) * adj * d.unsqueeze(-2)


class GNN(nn.Module):
    """FGG: a graph over the AU nodes from feature similarity, one residual graph convolution."""

    def __init__(self, in_channels: int, num_classes: int, neighbor_num: int = 4, metric: str = "dots") -> None:
        super().__init__()
        if metric not in ("dots", "cosine"):
            raise ValueError(f"OpenGraphAU metric {metric!r}: petra ports 'dots' (the released models) and 'cosine'")
        self.metric, self.neighbor_num = metric, neighbor_num
        self.relu = nn.ReLU()
        self.U = nn.Linear(in_channels, in_channels)
        self.V = nn.Linear(in_channels, in_channels)
        self.bnv = nn.BatchNorm1d(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, n, C] node features → [N, n, C]."""
        si = x.detach()
        if self.metric == "cosine":
            si = F.normalize(si, p=2, dim=-1)
        si = si @ si.transpose(1, 2)
        threshold = si.topk(k=self.neighbor_num, dim=-1, largest=True)[0][:, :, -1:]
        adj = (si >= threshold).to(x.dtype)  # each node's k most similar nodes (itself included)
        aggregate = normalize_digraph(adj) @ self.V(x)
        return self.relu(x + self.bnv(aggregate + self.U(x)))


class Head(nn.Module):
    """AFG (one LinearBlock per main AU) → FGG (GNN) → cosine with per-AU class vectors."""

    def __init__(self, in_channels: int, num_main_classes: int = N_MAIN, num_sub_classes: int = N_SUB,
                 neighbor_num: int = 4, metric: str = "dots") -> None:
        super().__init__()
        self.main_class_linears = nn.ModuleList(LinearBlock(in_channels, in_channels) for _ in range(num_main_classes))
        self.gnn = GNN(in_channels, num_main_classes, neighbor_num=neighbor_num, metric=metric)
        self.main_sc = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(num_main_classes, in_channels)))
        self.sub_sc = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(num_sub_classes, in_channels)))
        self.sub_list = SUB_PARENTS
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, T, C] tokens → [N, n_main + n_sub] AU probabilities."""
        f_v = torch.stack([layer(x).mean(dim=-2) for layer in self.main_class_linears], dim=1)  # [N, n, C]
        f_v = F.normalize(self.gnn(f_v), p=2, dim=-1)
        main_sc = F.normalize(self.relu(self.main_sc), p=2, dim=-1)
        main_cl = (f_v * main_sc.unsqueeze(0)).sum(dim=-1)
        sub_sc = F.normalize(self.relu(self.sub_sc), p=2, dim=-1).view(len(self.sub_list), 2, -1)  # (left, right)
        parents = f_v[:, list(self.sub_list)]  # [N, 7, C]
        sub_cl = torch.einsum("npc,psc->nps", parents, sub_sc).reshape(x.shape[0], -1)  # L, R, L, R, ...
        return torch.cat([main_cl, sub_cl], dim=-1)


class MEFARG(nn.Module):
    """Stage-1 OpenGraphAU: image [N, 3, 224, 224] (ImageNet-normalised) → [N, 41] AU probabilities."""

    def __init__(self, num_main_classes: int = N_MAIN, num_sub_classes: int = N_SUB, backbone: str = "resnet50",
                 neighbor_num: int = 4, metric: str = "dots") -> None:
        super().__init__()
        if backbone not in ARCHS:
            raise ValueError(f"OpenGraphAU backbone {backbone!r}: petra ports {sorted(ARCHS)} (Swin is not ported)")
        kind, layers = ARCHS[backbone]
        self.backbone = ResNetTrunk(block_class(kind), layers)
        self.in_channels = self.backbone.num_features
        self.out_channels = self.in_channels // 4
        self.global_linear = LinearBlock(self.in_channels, self.out_channels)
        self.head = Head(self.out_channels, num_main_classes, num_sub_classes, neighbor_num, metric)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone feature map as tokens, as the official ResNet.forward returns it: [N, H·W, C]."""
        return self.backbone(x).flatten(2).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.global_linear(self.tokens(x)))


def preprocess(rgb: np.ndarray) -> torch.Tensor:
    """Official ``image_eval``: RGB uint8 face crop → Resize(256) → CenterCrop(224) → [1, 3, 224, 224]."""
    return resize_center_crop(rgb, 256, 224)


def convert_state_dict(ckpt: Any) -> dict[str, torch.Tensor]:
    """A released checkpoint (``{'state_dict': ..., 'epoch', 'optimizer'}`` with DataParallel
    ``module.`` prefixes, or a bare state_dict) → the state_dict of :class:`MEFARG`."""
    sd = ckpt["state_dict"] if isinstance(ckpt, Mapping) and "state_dict" in ckpt else ckpt
    if not isinstance(sd, Mapping):
        raise TypeError(f"expected a state_dict, found {type(sd).__name__}")
    return {k.removeprefix("module."): v for k, v in sd.items() if isinstance(v, torch.Tensor)}


def load_opengraphau(path: str, sha256: str | None = None, backbone: str = "resnet50") -> MEFARG:
    """Released stage-1 checkpoint → eval-mode MEFARG (strict: a wrong backbone fails here, not later)."""


    net = MEFARG(backbone=backbone)
    try:
        sd = convert_state_dict(safe_torch_load(path, sha256=sha256))
    except TypeError as err:
        raise PetraError(f"{path}: not an OpenGraphAU checkpoint: {err}") from None
    missing, unexpected = sorted(set(net.state_dict()) - set(sd)), sorted(set(sd) - set(net.state_dict()))
    if missing or unexpected:
        raise PetraError(f"{path}: not an OpenGraphAU {backbone} stage-1 checkpoint "
                         f"({len(missing)} keys missing e.g. {missing[:2]}, {len(unexpected)} unexpected e.g. {unexpected[:2]})")
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as err:  # shape mismatch: another backbone width
        raise PetraError(f"{path}: not an OpenGraphAU {backbone} stage-1 checkpoint: {str(err).splitlines()[-1].strip()}") from None
    return net.eval()


class OpenGraphAUPredictor:
    """RGB face crop → 41 AU probabilities in :data:`AU_CODES` order (official preprocessing)."""

    def __init__(self, model: MEFARG) -> None:
        self.model = model.eval()

    @torch.no_grad()
    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        return self.model(preprocess(rgb))[0].numpy().astype(np.float64)
