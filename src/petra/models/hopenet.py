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

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
N_BINS = 66


class Hopenet(nn.Module):
    """ResNet trunk with three 66-bin classification heads (yaw, pitch, roll)."""

    def __init__(self, block: Any = None, layers: tuple[int, ...] = (3, 4, 6, 3), num_bins: int = N_BINS) -> None:
        super().__init__()
        if block is None:
            from torchvision.models.resnet import (
                Bottleneck as block,  # the official block (stride on conv2)
            )
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AvgPool2d(7)
        feat = 512 * block.expansion
        self.fc_yaw = nn.Linear(feat, num_bins)
        self.fc_pitch = nn.Linear(feat, num_bins)
        self.fc_roll = nn.Linear(feat, num_bins)
        self.fc_finetune = nn.Linear(feat + 3, 3)  # unused; present in the official checkpoint

    def _make_layer(self, block: Any, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [N, 3, 224, 224] → (yaw, pitch, roll) logits, each [N, 66]."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x).view(x.size(0), -1)
        return self.fc_yaw(x), self.fc_pitch(x), self.fc_roll(x)


def logits_to_degrees(logits: torch.Tensor) -> torch.Tensor:
    """Softmax expectation over the bins: Σ softmax(l)_b · b · 3 − 99 → [N] degrees."""
    idx = torch.arange(logits.shape[-1], dtype=logits.dtype, device=logits.device)
    return (F.softmax(logits, dim=-1) * idx).sum(-1) * 3 - 99


def preprocess(rgb: np.ndarray) -> torch.Tensor:
    """Official test transform on an RGB uint8 face crop → [1, 3, 224, 224]."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb))
    w, h = img.size
    # torchvision Resize(224): shorter side to 224, the longer one truncated
    size = (224, int(224 * h / w)) if w <= h else (int(224 * w / h), 224)
    img = img.resize(size, Image.BILINEAR)
    w, h = img.size
    left, top = round((w - 224) / 2.0), round((h - 224) / 2.0)
    img = img.crop((left, top, left + 224, top + 224))
    t = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return ((t - mean) / std).unsqueeze(0)


def load_hopenet(path: str, sha256: str | None = None) -> Hopenet:
    """``hopenet_robust_alpha1.pkl`` (a plain state_dict) → eval-mode Hopenet, strict."""
    from ..weights import safe_torch_load

    net = Hopenet()
    net.load_state_dict(safe_torch_load(path, sha256=sha256), strict=True)
    return net.eval()


class HopeNetPoseEstimator:
    """Head-pose backend ``hopenet``: aligned RGB face crop → HeadPose (degrees).

    Conforms to :mod:`petra.geometry.headpose` (``estimate(rgb) -> HeadPose``). HopeNet's
    own signs (300W-LP; read from deep-head-pose ``utils.plot_pose_cube``/``draw_axis``,
    which draws the nose axis at ``sin(-yaw)`` and the face x-axis dipping by
    ``sin(roll)`` with y down) are: yaw > 0 = nose toward the image's left, roll > 0 =
    clockwise tilt, pitch > 0 = looking up. petra's convention flips yaw and roll, so
    :meth:`estimate` returns ``(-yaw, pitch, -roll)``; :meth:`angles` gives the raw values.
    """

    name = "hopenet"

    def __init__(self, weights_path: str, sha256: str | None = None, model: Hopenet | None = None) -> None:
        self.model = model if model is not None else load_hopenet(str(weights_path), sha256=sha256)
        self.model.eval()

    @torch.no_grad()
    def angles(self, rgb: np.ndarray) -> tuple[float, float, float]:
        """Raw HopeNet (yaw, pitch, roll) in degrees, official preprocessing."""
        yaw, pitch, roll = self.model(preprocess(rgb))
        return tuple(float(logits_to_degrees(t)[0]) for t in (yaw, pitch, roll))  # type: ignore[return-value]

    def estimate(self, rgb: np.ndarray) -> Any:
        """HeadPose in petra's sign convention (see the class docstring)."""
        from petra.geometry.headpose import HeadPose

        yaw, pitch, roll = self.angles(rgb)
        return HeadPose(yaw=-yaw, pitch=pitch, roll=-roll, backend=self.name)

    __call__ = estimate
