"""Shared setup of the StyleGAN2-path tests: the smoke profile with its random weights in a temp dir.

The weights are built once per test session (the fixture recipe, official file layouts)
and loaded through the real loaders, exactly as the smoke profile's pipeline does.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import petra.config
from petra.io import write_image

_BUILT: dict[str, Path] = {}


def smoke_cfg(tmp_path_factory: Any, parts: tuple[str, ...] = ("generator",)) -> dict[str, Any]:
    """The resolved smoke config with paths in a session temp dir and ``parts`` of its weights built."""
    from petra.generators.stylegan2.smoke_weights import build_smoke_weights

    if "root" not in _BUILT:
        _BUILT["root"] = tmp_path_factory.mktemp("sg2smoke")
    root = _BUILT["root"]
    cfg = copy.deepcopy(petra.config.load(Path(__file__).resolve().parents[1] / "params.yaml", "smoke"))
    cfg["paths"] = {"data": str(root / "data"), "models": str(root / "models"), "reports": str(root / "reports")}
    missing = tuple(p for p in parts if p not in _BUILT)
    if missing:
        build_smoke_weights(cfg, only=missing, log=lambda m: None)
        _BUILT.update({p: root for p in missing})
    return cfg


def face_like(size: int, seed: int, mouth: float = 0.3) -> np.ndarray:
    """A synthetic face-ish crop: skin ellipse, two eyes, a mouth whose opening is ``mouth``."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), rng.integers(40, 90, 3), np.uint8)
    c = size // 2
    skin = tuple(int(v) for v in rng.integers(150, 230, 3))
    cv2.ellipse(img, (c, int(c * 1.05)), (int(size * 0.3), int(size * 0.4)), 0, 0, 360, skin, -1)
    for dx in (-1, 1):
        cv2.circle(img, (c + dx * int(size * 0.12), int(size * 0.45)), max(2, size // 30), (30, 30, 30), -1)
    cv2.ellipse(img, (c, int(size * 0.72)), (int(size * 0.1), max(1, int(size * 0.1 * mouth))), 0, 0, 360, (120, 30, 40), -1)
    return img


def write_manifest(root: Path, ids: int = 4, frames: int = 2, size: int = 64) -> pd.DataFrame:
    """A small manifest of synthetic crops; the last identity is the val split."""
    rows = []
    for i in range(ids):
        for f in range(frames):
            rel = f"aligned/id{i:04d}/v0/{f}.png"
            write_image(root / rel, face_like(size, 10 * i + f, mouth=0.1 + 0.4 * f))
            lm = np.zeros((68, 2), np.float32)
            rows.append({"identity": f"id{i:04d}", "video": f"id{i:04d}/v0", "time_s": 0.5 * f, "frame_path": rel,
                             "aligned_path": rel, "landmarks": lm.ravel().tolist(), "yaw": 0.0, "pitch": 0.0, "roll": 0.0,
                             "pose_backend": "test", "split": "val" if i == ids - 1 else "train"})
    df = pd.DataFrame(rows)
    df.to_parquet(root / "frames.parquet")
    return df
