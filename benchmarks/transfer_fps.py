"""End-to-end frames per second of the mesh transfer (issue 3, item 6).

Times, per driving frame: MediaPipe landmarks (tracked between frames), One-Euro
smoothing, fit, compose, mesh warp and compositing of the aligned crop (no paste-back),
at 256 and 512 px. Video decoding happens before the clock starts and nothing is
encoded. Prints one JSON line. Usage::

    python benchmarks/transfer_fps.py [--video V] [--target IMG] [--frames 240] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

SHARED = Path(os.environ.get("PETRA_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", default=str(SHARED / "data/sample/videos/id0004/LivePortrait_d3.mp4"))
    ap.add_argument("--target", default=str(SHARED / "data/sample/images/LivePortrait_s0.jpg"))
    ap.add_argument("--frames", type=int, default=240)
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (the machine is shared)")
    args = ap.parse_args()

    import cv2

    cv2.setNumThreads(args.threads)
    from petra.media import read_image
    from petra.generators.mesh.render.transfer import MeshConfig, Transfer
    from petra.video import iter_frames

    frames = [f for _, f in iter_frames(args.video, max_frames=args.frames)]
    if len(frames) < args.frames:  # short clip: play it forward and backward
        while len(frames) < args.frames:
            frames += frames[::-1][: args.frames - len(frames)]
    target = read_image(args.target)
    result = {"benchmark": "transfer_fps", "video": Path(args.video).name, "frames": len(frames),
              "cpu_count": os.cpu_count(), "opencv_threads": args.threads, "machine": platform.machine()}
    for size in (int(s) for s in args.sizes.split(",")):
        tr = Transfer(target, MeshConfig(size=size, paste_back=False, mode="relative"), video=True)
        tr.drive(frames[0], t=0.0)  # warm-up (graph start-up, reference frame)
        stages = {"landmarks": 0.0, "render": 0.0}
        t0 = time.perf_counter()
        for i, f in enumerate(frames):
            a = time.perf_counter()
            pts = tr.landmarks(f, t=i / 30.0)
            b = time.perf_counter()
            tr.drive(f, pts=pts)
            stages["landmarks"] += b - a
            stages["render"] += time.perf_counter() - b
        dt = time.perf_counter() - t0
        tr.close()
        result[f"fps_{size}"] = round(len(frames) / dt, 1)
        result[f"ms_landmarks_{size}"] = round(1000 * stages["landmarks"] / len(frames), 2)
        result[f"ms_geometry_render_{size}"] = round(1000 * stages["render"] / len(frames), 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
