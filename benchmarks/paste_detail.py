"""Paste-back at the photo's resolution (``mesh.paste_detail``): sharpness kept and cost, in one run.

A portrait whose face region is larger in the photo than the transfer crop gets the crop
upscaled when it is pasted back; with ``paste_detail`` the warp samples the photo itself
(docs/mesh.md, Renderer). Drives a portrait with a clip twice, detail off and on, and reports:

- ``sharpness_off`` / ``sharpness_on``: high-frequency energy (variance of the Laplacian) of
  the pasted face region over that of the target photo's own face region (1 = as sharp as
  the photo), mean over frames;
- ``ms_per_frame_off`` / ``ms_per_frame_on`` and their ratio: the whole transfer of the clip
  (landmarks, render, paste-back) per frame, measured in the same run;
- ``upscale``: photo pixels per crop pixel.

Writes ``reports/figures/paste_detail.png`` (git-ignored: sample faces): per frame, the
face region of the photo, detail off, detail on. Prints one JSON line. Usage::

    python benchmarks/paste_detail.py [--target IMG] [--video V] [--frames 90]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

SHARED = Path(os.environ.get("PETRA_SHARED", Path(__file__).resolve().parents[2] / "shared"))
ROOT = Path(__file__).resolve().parents[1]


def _energy(img: np.ndarray) -> float:
    import cv2

    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default=str(SHARED / "data/sample/images/SkyReels-A1_ref_images_19.jpg"))
    ap.add_argument("--video", default=str(SHARED / "data/sample/videos/id0012/LivePortrait_d12.mp4"))
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--figure", default=str(ROOT / "reports/figures/paste_detail.png"))
    args = ap.parse_args()

    import cv2

    cv2.setNumThreads(1)
    from petra.generators.mesh.render.transfer import MeshConfig, Transfer
    from petra.io import write_image
    from petra.media import read_image
    from petra.video import iter_frames

    frames = [f for _, f in iter_frames(args.video, max_frames=args.frames)]
    target = read_image(args.target)
    outs, secs = {}, {}
    for detail in (False, True):
        tr = Transfer(target, MeshConfig.from_params(size=args.size, paste_back=True, paste_detail=detail), video=True)
        t0 = time.perf_counter()
        outs[detail] = [o.full for o in tr.run_clip(frames, 30.0)]
        secs[detail] = time.perf_counter() - t0
        s2c = tr.src_to_crop
        tr.close()
    # the face region: the crop's central half, in photo pixels
    inv = cv2.invertAffineTransform(s2c)
    q = np.array([[0.25, 0.25, 1], [0.75, 0.75, 1]]) * [args.size, args.size, 1] @ inv.T
    x0, y0 = np.maximum(q.min(0).astype(int), 0)
    x1, y1 = np.minimum(q.max(0).astype(int), target.shape[1::-1])
    ref = _energy(target[y0:y1, x0:x1])
    sharp = {d: float(np.mean([_energy(o[y0:y1, x0:x1]) for o in outs[d]])) / ref for d in outs}
    n = len(frames)
    print(json.dumps({"benchmark": "paste_detail", "target": Path(args.target).name, "video": Path(args.video).name,
                      "frames": n, "size": args.size, "upscale": round(1.0 / float(np.sqrt(abs(np.linalg.det(s2c[:, :2])))), 2),
                      "sharpness_off": round(sharp[False], 3), "sharpness_on": round(sharp[True], 3),
                      "ms_per_frame_off": round(1000 * secs[False] / n, 1), "ms_per_frame_on": round(1000 * secs[True] / n, 1),
                      "time_ratio": round(secs[True] / secs[False], 3), "loadavg": round(os.getloadavg()[0], 2)}))
    rows = []
    for i in np.linspace(0, n - 1, 3).round().astype(int):
        rows.append(np.hstack([target[y0:y1, x0:x1], outs[False][i][y0:y1, x0:x1], outs[True][i][y0:y1, x0:x1]]))
    fig = np.vstack(rows)
    k = min(1.0, 1500 / fig.shape[1])
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    write_image(Path(args.figure), cv2.resize(fig, None, fx=k, fy=k, interpolation=cv2.INTER_AREA))


if __name__ == "__main__":
    main()
