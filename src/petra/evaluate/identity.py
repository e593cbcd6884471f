"""Identity embeddings for ID-CSIM and AED: dlib ResNet (offline) and ArcFace IR-SE50.

The two give different numbers on different scales, so their columns carry the
backend's name (``id_csim_dlib`` vs ``id_csim_arcface``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np


class IdentityEvaluator(Protocol):
    backend: str

    def __call__(self, rgb: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray | None:
        """rgb: [H, W, 3] uint8, landmarks [68, 2] → unit-norm embedding [D], or None."""


class DlibResnet:
    """dlib_face_recognition_resnet_model_v1: 128-d, same person ⇔ distance < 0.6.

    The face chip (150 px) is cut by dlib from the 68 landmarks, so it aligns the
    same way whatever produced the crop.
    """

    backend = "dlib"

    def __init__(self, jitter: int = 0) -> None:
        import dlib

        from petra.data.landmarks import model_path

        self._dlib = dlib
        self._net = dlib.face_recognition_model_v1(str(model_path("dlib_face_recognition_resnet_model_v1.dat")))
        self.jitter = jitter

    def __call__(self, rgb: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray | None:
        if landmarks is None:
            return None
        dlib = self._dlib
        pts = np.asarray(landmarks, dtype=np.float64).reshape(68, 2)
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        rect = dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
        shape = dlib.full_object_detection(rect, [dlib.point(round(float(x)), round(float(y))) for x, y in pts])
        emb = np.asarray(self._net.compute_face_descriptor(np.ascontiguousarray(rgb), shape, self.jitter))
        return emb / (np.linalg.norm(emb) + 1e-12)


class ArcFaceIRSE50:
    """pSp's IR-SE50 ArcFace (model_ir_se50.pth) with pSp's IDLoss pre-processing."""

    backend = "arcface"

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        import torch

        from petra import weights
        from petra.models import arcface_irse50

        self._torch = torch
        self._m = arcface_irse50
        path, sha = weights.require(cfg, "irse50_arcface", with_sha=True)  # MissingWeightsError names URL + sha256
        self._net = arcface_irse50.load_arcface(str(path), sha256=sha)

    def __call__(self, rgb: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray | None:
        torch = self._torch
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 127.5 - 1.0
        if x.shape[-1] != 256:
            x = torch.nn.functional.interpolate(x, size=(256, 256), mode="bilinear", align_corners=False)
        with torch.no_grad():
            emb = self._m.extract_feats(self._net, x)[0].numpy().astype(np.float64)
        return emb / (np.linalg.norm(emb) + 1e-12)


def create(backend: str, cfg: Mapping[str, Any]) -> IdentityEvaluator:
    if backend == "dlib":
        return DlibResnet()
    if backend == "arcface":
        return ArcFaceIRSE50(cfg)
    raise ValueError(f"unknown identity backend {backend!r}")
