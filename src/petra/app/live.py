"""``petra live``: animate a portrait in real time from a webcam or a clip.

    petra live --target me.jpg [--camera 0 | --driving clip.mp4] [--out rec.mp4] [--no-window]

A window shows the driver beside the animated portrait with the measured frames per
second; keys: ``n`` (or space) re-captures the neutral face from the next frame, ``q``
(or Esc) quits. ``--out`` records the animated portrait (H.264); ``--no-window --out``
records without a display. Prints a JSON summary at the end.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from petra.errors import InputError, PetraError
from petra.config import load
from petra.video import VideoWriter, iter_frames, probe

WINDOW = "petra live"
KEYS_NEUTRAL = (ord("n"), ord(" "))
KEYS_QUIT = (ord("q"), 27)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", required=True, help="target portrait (image)")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, default=None, help="webcam index (default: 0 unless --driving)")
    src.add_argument("--driving", default=None, help="a driving video played through the same loop")
    parser.add_argument("--out", default=None, help="record the animated portrait to this video (.mp4/.mov/.mkv)")
    parser.add_argument("--no-window", action="store_true", help="no display (with --out: record only)")
    parser.add_argument("--mode", choices=["relative", "absolute"], default=None,
                        help="relative (default: motion from the driver's neutral face) or absolute")
    parser.add_argument("--expression-scale", type=float, default=None, help="multiply the transferred expression")
    parser.add_argument("--smoothing", choices=["one_euro", "none"], default=None, help="landmark smoothing")
    parser.add_argument("--size", type=int, choices=[256, 512], default=None, help="aligned crop side")
    parser.add_argument("--no-paste-back", action="store_true", help="show/record the aligned crop only")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")


def main(args: argparse.Namespace) -> int:
    summary = run_live(load(args.params, args.profile), args.target, camera=args.camera, driving=args.driving,
                       out=args.out, window=not args.no_window, mode=args.mode,
                       expression_scale=args.expression_scale, smoothing=args.smoothing, size=args.size,
                       paste_back=False if args.no_paste_back else None, max_frames=args.max_frames)
    print(json.dumps(summary))
    return 0


def camera_frames(index: int) -> Iterator[tuple[float | None, np.ndarray]]:
    """RGB frames of webcam ``index`` (time None: the wall clock is the frame time)."""
    import cv2

    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise InputError(f"camera {index}", "cannot open the webcam (no such device, or it is busy)")
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            yield None, np.ascontiguousarray(bgr[..., ::-1])
    finally:
        cap.release()


def _source(camera: int | None, driving: str | Path | None) -> tuple[Iterator[tuple[float | None, np.ndarray]], float]:
    """(frames, fps to record at) of the webcam or the driving clip."""
    if driving is None:
        return camera_frames(camera or 0), 30.0
    info = probe(Path(driving))
    return iter_frames(Path(driving)), info.fps or 25.0


def _check_display() -> None:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise PetraError("no display to open a window on: use --no-window (with --out to record)")


def side_by_side(driver: np.ndarray, result: np.ndarray, fps: float) -> np.ndarray:
    """Driver (scaled to the result's height) | result, with the fps and the keys written on it."""
    import cv2

    h = result.shape[0]
    w = max(1, round(driver.shape[1] * h / driver.shape[0]))
    view = np.concatenate([cv2.resize(driver, (w, h), interpolation=cv2.INTER_AREA), result], axis=1)
    scale = max(0.4, h / 600)
    for color, thick in (((0, 0, 0), 4), ((255, 255, 255), 1)):
        cv2.putText(view, f"{fps:5.1f} fps   [n] neutral  [q] quit", (10, int(28 * scale) + 4),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, color, thick, cv2.LINE_AA)
    return view


def run_live(cfg: Any, target: str | Path, camera: int | None = None, driving: str | Path | None = None,
             out: str | Path | None = None, window: bool = True, max_frames: int | None = None,
             **options: Any) -> dict[str, Any]:
    """The real-time loop; ``options`` go to :class:`petra.api.Animator` (mode, size, ...)."""
    from petra.api import Animator
    from petra.stages.transfer import OUT_VIDEO_EXT

    if out is not None and Path(out).suffix.lower() not in OUT_VIDEO_EXT:
        raise InputError(out, f"the recording must be a video ({', '.join(sorted(OUT_VIDEO_EXT))})")
    if window:
        _check_display()
    frames, rec_fps = _source(camera, driving)
    n = faces = 0
    writer: VideoWriter | None = None
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        anim = stack.enter_context(Animator(target, params=cfg, **options))
        if window:
            import cv2

            stack.callback(cv2.destroyAllWindows)
        for t, frame in frames:
            result = anim.animate(frame, t)
            n += 1
            faces += anim.face_found
            if out is not None and writer is None:  # the first result gives the size; written atomically
                writer = stack.enter_context(
                    VideoWriter(out, rec_fps, (result.shape[1], result.shape[0]), audio_from=driving))
            if writer is not None:
                writer.write(result)
            if (window and _show(frame, result, anim)) or (max_frames is not None and n >= max_frames):
                break
    dt = time.perf_counter() - t0
    return {"target": str(target), "source": str(driving) if driving is not None else f"camera {camera or 0}",
            "out": str(out) if out is not None else None, "frames": n, "frames_with_face": faces,
            "seconds": round(dt, 2), "fps": round(n / dt, 2) if dt > 0 else 0.0}


def _show(frame: np.ndarray, result: np.ndarray, anim: Any) -> bool:
    """Show one frame; handle the keys. True: the user quit."""
    import cv2

    view = side_by_side(frame, result, anim.fps)
    cv2.imshow(WINDOW, np.ascontiguousarray(view[..., ::-1]))
    key = cv2.waitKey(1) & 0xFF
    if key in KEYS_NEUTRAL:
        anim.recapture()
    return key in KEYS_QUIT or cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1
