"""Self-reenactment image metrics against ground truth (uint8 RGB crops of one size)."""
from __future__ import annotations

import math

import numpy as np


def _check(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")


def l1(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference with pixels scaled to [0, 1]."""
    _check(a, b)
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean() / 255.0)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (peak 255); identical images → inf."""
    _check(a, b)
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM (Wang et al. 2004; skimage, Gaussian window σ=1.5, RGB averaged)."""
    from skimage.metrics import structural_similarity

    _check(a, b)
    return float(
        structural_similarity(a, b, channel_axis=2, data_range=255, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False)
    )


def akd(lm_a: np.ndarray, lm_b: np.ndarray, size: int, ref_size: int = 256) -> float:
    """Average keypoint distance in pixels of a ``ref_size`` crop (68 points each)."""
    a = np.asarray(lm_a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(lm_b, dtype=np.float64).reshape(-1, 2)
    return float(np.linalg.norm(a - b, axis=1).mean() * ref_size / size)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
