"""End-to-end frames per second of the mesh transfer (issue 3 item 6, issue 12 item 6), and per
method at 256 px: mesh-relative vs mesh-ours-gen (+ the refinement net; issue 13 item 4).

Times the whole per-clip work with every stage on, at 256 and 512 px: pass 1 =
MediaPipe landmarks (tracked) + One-Euro smoothing of every frame; the driver's
neutral face over the clip; pass 2 = fit, driver normalisation (framing, held poses),
turn clamp, compose, mesh warp, iris and mouth layers, the person layer over the
background plate. fps = frames / (pass 1 + analysis + pass 2). Decoding happens before
the clock starts and nothing is encoded or pasted back.

The machine is shared, so the same run also times a reference: the engine with the
issue-12 stages off (first-frame reference, no head layer), and reports the ratio,
the load average, and single-run timings per stage from cProfile (one more pass at
each size). Prints one JSON line. Usage::

    python benchmarks/transfer_fps.py [--video V] [--target IMG] [--frames 240] [--threads 1]
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import time
from pathlib import Path

SHARED = Path(os.environ.get("PETRA_SHARED", Path(__file__).resolve().parents[2] / "shared"))

# functions whose cumulative time is reported per stage (module suffix, function name)
STAGES = {
    "landmarks": ("geometry/facemesh.py", "detect"),
    "neutral": ("geometry/driver.py", "neutral_face"),
    "fit": ("geometry/motion.py", "fit_face"),
    "normalise": ("geometry/driver.py", "__call__"),
    "compose": ("geometry/motion.py", "compose_mesh"),
    "plan_frame": ("render/plan.py", "plan_frame"),
    "warp_layers": ("render/warp.py", "render_np"),
    "head_layer": ("render/head.py", "composite"),
}


def run(target, frames, size: int, new: bool, refiner=None) -> float:
    """Seconds for one clip: landmarks pass, neutral analysis, render pass (+ the refinement net)."""
    from petra.generators.mesh.render.transfer import MeshConfig, Transfer

    kw = {} if new else {"reference": "first", "head_layer": False}
    tr = Transfer(target, MeshConfig.from_params(size=size, paste_back=False, mode="relative", **kw), video=True, refiner=refiner)
    tr.drive(frames[0], t=0.0)  # warm-up (graph start-up)
    tr = Transfer(target, MeshConfig.from_params(size=size, paste_back=False, mode="relative", **kw), video=True, refiner=refiner)
    t0 = time.perf_counter()
    for _ in tr.run_clip(frames, 30.0):
        pass
    dt = time.perf_counter() - t0
    tr.close()
    return dt


def profile(target, frames, size: int) -> dict[str, float]:
    """ms per frame of each stage in :data:`STAGES` (cumulative, one profiled run)."""
    prof = cProfile.Profile()
    prof.enable()
    run(target, frames, size, True)
    prof.disable()
    st = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    out = {}
    for name, (mod, fn) in STAGES.items():
        ct = sum(v[3] for (f, _, n), v in st.items() if f.endswith(mod) and n == fn)
        out[name] = round(1000 * ct / len(frames), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", default=str(SHARED / "data/sample/videos/id0004/LivePortrait_d3.mp4"))
    ap.add_argument("--target", default=str(SHARED / "data/sample/images/LivePortrait_s0.jpg"))
    ap.add_argument("--frames", type=int, default=240)
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (the machine is shared)")
    ap.add_argument("--refine-checkpoint", default=None,
                    help="mesh-ours-gen's net (default: the shipped file); its fps is reported at 256 px")
    ap.add_argument("--torch-threads", type=int, default=2, help="threads of the refinement net")
    args = ap.parse_args()

    import cv2

    cv2.setNumThreads(args.threads)
    from petra.media import read_image
    from petra.video import iter_frames

    frames = [f for _, f in iter_frames(args.video, max_frames=args.frames)]
    if len(frames) < args.frames:  # short clip: play it forward and backward
        while len(frames) < args.frames:
            frames += frames[::-1][: args.frames - len(frames)]
    target = read_image(args.target)
    result = {"benchmark": "transfer_fps", "video": Path(args.video).name, "frames": len(frames),
              "cpu_count": os.cpu_count(), "opencv_threads": args.threads, "machine": platform.machine(),
              "loadavg_start": round(os.getloadavg()[0], 2)}
    for size in (int(s) for s in args.sizes.split(",")):
        ref = run(target, frames, size, False)
        new = run(target, frames, size, True)
        result[f"fps_{size}"] = round(len(frames) / new, 1)
        result[f"fps_{size}_reference"] = round(len(frames) / ref, 1)
        result[f"time_ratio_{size}"] = round(new / ref, 3)
        result[f"ms_per_stage_{size}"] = profile(target, frames, size)
    # per method at 256 px: the hand-made transfer (mesh-relative) and the refined one (mesh-ours-gen)
    from petra.generators.mesh.refine.reenactor import Refiner
    from petra.generators.mesh.refine.shipped import shipped_path

    refiner = Refiner(args.refine_checkpoint or shipped_path(), threads=args.torch_threads)
    hand = run(target, frames, 256, True)
    refined = run(target, frames, 256, True, refiner)
    result["fps_256_mesh-relative"] = round(len(frames) / hand, 1)
    result["fps_256_mesh-ours-gen"] = round(len(frames) / refined, 1)
    result["time_ratio_256_refined_vs_handmade"] = round(refined / hand, 3)
    result["refine_ms_per_frame"] = round(1000 * (refined - hand) / len(frames), 1)
    result["loadavg_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
