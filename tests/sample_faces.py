"""Aligned face crops cut from the sample videos, for tests that need real faces but no pipeline outputs.

The mesh-recipe and random-identity tests both fit meshes to a few aligned frames per
sample identity; this module reads and aligns those frames once, the same way for both.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np


class AlignedSample(NamedTuple):
    """One aligned crop written to ``path``: its identity, ``<identity>/<clip stem>``, frame number."""

    identity: str
    video: str
    index: int  # position among the clip's frames that were read (not among the requested times)
    path: Path
    landmarks: np.ndarray  # the crop's landmarks, as align_face returns them


def video_frames(video: Path, times: tuple[float, ...]) -> list[np.ndarray]:
    """RGB frames of ``video`` at ``times`` (s); frames OpenCV cannot read are left out."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    out = []
    for t in times:
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(t * fps))
        ok, frame = cap.read()
        if ok:
            out.append(np.ascontiguousarray(frame[..., ::-1]))
    cap.release()
    return out


def aligned_samples(sample_root: Path, out: Path, n_ids: int, times: tuple[float, ...]) -> list[AlignedSample]:
    """Align the frames at ``times`` of the first clip of each sample identity (256 px), until
    ``n_ids`` identities have a crop; crops go to ``out/<identity>/<index>.png``. Frames
    without a usable face are skipped."""
    from petra.data.ffhq import align_face
    from petra.data.landmarks import Landmarker
    from petra.errors import InputError
    from petra.io import write_image

    lmk = Landmarker()
    samples: list[AlignedSample] = []
    for vid_dir in sorted((sample_root / "videos").iterdir()):
        if len({s.identity for s in samples}) >= n_ids:
            break
        video = sorted(vid_dir.glob("*.mp4"))[0]
        for k, rgb in enumerate(video_frames(video, times)):
            try:
                crop = align_face(rgb, lmk(rgb), 256)
            except InputError:
                continue
            path = out / vid_dir.name / f"{k}.png"
            write_image(path, crop.image)
            samples.append(AlignedSample(vid_dir.name, f"{vid_dir.name}/{video.stem}", k, path, crop.landmarks))
    return samples
