"""The torchvision-layout ResNet trunk shared by HopeNet and OpenGraphAU, and their ImageNet preprocessing.

Both official codebases copy torchvision's ResNet (stride on the 3×3 ``conv2`` of the
Bottleneck), so their checkpoints use torchvision's key names: ``conv1``, ``bn1``,
``layer1``…``layer4``. Each network adds its own heads on top of this trunk; keeping
the trunk in one place keeps those key names identical in both.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# name -> (block, blocks per stage); the block classes are torchvision's, as in both official repos
ARCHS: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
}


def block_class(kind: str) -> Any:
    from torchvision.models.resnet import BasicBlock, Bottleneck

    return {"basic": BasicBlock, "bottleneck": Bottleneck}[kind]


class ResNetTrunk(nn.Module):
    """conv1 → bn1 → relu → maxpool → layer1..4 (no pooling, no fc): x [N,3,H,W] → [N, C, H/32, W/32]."""

    def __init__(self, block: Any, layers: tuple[int, ...]) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.num_features = 512 * block.expansion

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

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    forward = features


def resize_center_crop(rgb: np.ndarray, resize: int, crop: int) -> torch.Tensor:
    """torchvision ``Resize(resize)`` (shorter side, PIL bilinear) → ``CenterCrop(crop)`` →
    ``ToTensor`` → ImageNet ``Normalize`` on an RGB uint8 image → [1, 3, crop, crop]."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb))
    w, h = img.size
    # torchvision: the shorter side becomes `resize`, the longer one int(resize * long / short)
    size = (resize, int(resize * h / w)) if w <= h else (int(resize * w / h), resize)
    img = img.resize(size, Image.BILINEAR)
    w, h = img.size
    left, top = round((w - crop) / 2.0), round((h - crop) / 2.0)
    img = img.crop((left, top, left + crop, top + crop))
    t = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return ((t - mean) / std).unsqueeze(0)
