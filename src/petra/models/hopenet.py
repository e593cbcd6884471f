"""HopeNet head pose (deep-head-pose ``Hopenet(Bottleneck, [3,4,6,3], 66)``) and its pose backend.

Keys match ``hopenet_robust_alpha1.pkl`` (a torchvision-ResNet50 trunk plus
``fc_yaw``/``fc_pitch``/``fc_roll`` and the vestigial ``fc_finetune`` that the official
strict load still expects). Each head gives 66 logits over 3° bins; the angle is the
softmax expectation ``Σ p_b · 3b − 99`` degrees. Official input: RGB face crop →
Resize(224) (shorter side) → CenterCrop(224) → ToTensor → ImageNet Normalize; the
fixed AvgPool2d(7) needs exactly 224 px.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .resnet import ResNetTrunk, block_class, resize_center_crop
from petra.safeload import safe_torch_load

N_BINS = 66


class Hopenet(ResNetTrunk):
    """ResNet trunk with three 66-bin classification heads (yaw, pitch, roll)."""

    def __init__(self, block: Any = None, layers: tuple[int, ...] = (3, 4, 6, 3), num_bins: int = N_BINS) -> None:
        super().__init__(block or block_class("bottleneck"), layers)  # the official block (stride on conv2)
        self.avgpool = nn.AvgPool2d(7)
        feat = self.num_features
        self.fc_yaw = nn.Linear(feat, num_bins)
        self.fc_pitch = nn.Linear(feat, num_bins)
        self.fc_roll = nn.Linear(feat, num_bins)
        self.fc_finetune = nn.Linear(feat + 3, 3)  # unused; present in the official checkpoint

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [N, 3, 224, 224] → (yaw, pitch, roll) logits, each [N, 66]."""
        x = self.avgpool(self.features(x)).view(x.size(0), -1)
        return self.fc_yaw(x), self.fc_pitch(x), self.fc_roll(x)


def logits_to_degrees(logits: torch.Tensor) -> torch.Tensor:
    """Softmax expectation over the bins: Σ softmax(l)_b · b · 3 − 99 → [N] degrees."""
    idx = torch.arange(logits.shape[-1], dtype=logits.dtype, device=logits.device)
    return (F.softmax(logits, dim=-1) * idx).sum(-1) * 3 - 99


def preprocess(rgb: np.ndarray) -> torch.Tensor:
    """Official test transform on an RGB uint8 face crop: Resize(224) → CenterCrop(224) → [1, 3, 224, 224]."""
    return resize_center_crop(rgb, 224, 224)


def load_hopenet(path: str, sha256: str | None = None) -> Hopenet:
    """``hopenet_robust_alpha1.pkl`` (a plain state_dict) → eval-mode Hopenet, strict."""

    net = Hopenet()
    net.load_state_dict(safe_torch_load(path, sha256=sha256), strict=True)
    return net.eval()



@torch.no_grad()
def hopenet_angles(model: Hopenet, rgb: np.ndarray) -> tuple[float, float, float]:
    """Raw HopeNet (yaw, pitch, roll) in degrees of an RGB uint8 face crop, official preprocessing.

    HopeNet's own signs (300W-LP): yaw > 0 = nose toward the image's left, roll > 0 =
    clockwise tilt, pitch > 0 = looking up; :class:`petra.geometry.headpose.HopeNetPoseEstimator`
    converts them to petra's convention.
    """
    yaw, pitch, roll = model(preprocess(rgb))
    return tuple(float(logits_to_degrees(t)[0]) for t in (yaw, pitch, roll))  # type: ignore[return-value]
