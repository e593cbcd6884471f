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


def mini_mirror(root: Path, sample_root: Path, damaged: bool = True, more: int = 0) -> Path:
    """A small sample-style mirror (1.1 s clips, 256 px, 25 fps) at ``root``: idA with two clips,
    idB with one, idC with a partly undecodable clip (``damaged``) and ``more`` one-clip identities."""
    v = sample_root / "videos"
    obama = v / "id0070" / "LIA_obama.mp4"
    encode(obama, root / "videos" / "idA" / "clip1.mp4", "scale=256:256")
    encode(obama, root / "videos" / "idA" / "clip2.mp4", "scale=256:256", extra=("-ss", "6"))
    encode(v / "id0085" / "MimicTalk_German_20s.mp4", root / "videos" / "idB" / "clip.mp4", "scale=256:256")
    if damaged:
        good = encode(obama, root.parent / "good.mp4", "scale=256:256", duration="2", extra=("-movflags", "+faststart"))
        (root / "videos" / "idC").mkdir()
        zero_front(good, root / "videos" / "idC" / "damaged.mp4")
    extra = [v / "id0092" / "SkyReels-A1_driving_video_2.mp4", v / "id0097" / "LatentSync_demo2_video.mp4",
             v / "id0098" / "LatentSync_demo3_video.mp4"]
    for k, src in enumerate(extra[:more]):
        encode(src, root / "videos" / f"idX{k}" / "clip.mp4", "scale=256:256")
    return root
