"""Helpers of the reliability tests: generated bad inputs, folder snapshots, one-line error checks."""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import numpy as np


def ffmpeg(*args: str) -> None:
    from petra.video import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def encode(src: Path, dst: Path, vf: str, duration: str = "1.1", extra: tuple[str, ...] = ()) -> Path:
    """Re-encode ``src`` (H.264, 25 fps, a keyframe a second) through the filter ``vf``."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-i", str(src), "-t", duration, "-vf", vf, "-an", "-r", "25", "-g", "25", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", *extra, str(dst))
    return dst


def zero_front(good: Path, dst: Path) -> Path:
    """A copy of a fast-start mp4 whose first half of coded video is zeroed: it decodes only in part."""
    data = bytearray(good.read_bytes())
    start = data.find(b"mdat") + 4 + 64
    half = (len(data) - start) // 2
    data[start:start + half] = bytes(half)
    dst.write_bytes(bytes(data))
    return dst


def noise_image(path: Path, size: tuple[int, int] = (300, 300), seed: int = 0) -> Path:
    """A smooth random picture without a face."""
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), (31, 31), 8)
    cv2.imwrite(str(path), img)
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file below ``folder`` (what a run must leave unchanged)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def temporaries(folder: Path) -> list[Path]:
    """Files of petra's temporary naming below ``folder``."""
    return [p for p in folder.rglob(".*") if ".tmp" in p.name]


def error_lines(stderr: str, command: str) -> list[str]:
    """The lines of ``stderr`` that are petra's one-line errors of ``command``."""
    return [line.strip() for line in stderr.replace("\r", "\n").splitlines()
            if line.strip().startswith(f"petra {command}: error:")]
