"""Alignment benchmark: petra's align (dlib landmarks + FFHQ crop) vs the reference algorithm.

Frames: the 24 fixture frames (../shared/fixtures/ffhq_align) plus >= 200 sample frames
(one every 0.5 s from the sample mirror, decoded in memory). Both pipelines get the
same decoded RGB frames and are timed in this run, one process, one thread:

* reference = pSp ``get_landmark`` (full-frame HOG detection with upsample 1, last face,
  68-point predictor) + ``align_face`` as written step by step in
  :mod:`petra.data.align_reference`;
* petra = :class:`petra.data.landmarks.Landmarker` (detection at a dlib pyramid scale
  <= align.detect_max_side) + :func:`petra.data.ffhq.align_face`.

PSNR against the fixture's official outputs is reported given the fixture landmarks
(the alignment alone) and end to end (each pipeline's own landmarks). Prints one JSON line.

    python benchmarks/align.py [--sample-frames 200] [--ref-frames 0 (=all)]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def reference_landmarks(detector, predictor, rgb: np.ndarray) -> np.ndarray | None:
    """pSp/ReStyle get_landmark: detector(img, 1), predictor on each face, the last one kept."""
    dets = detector(rgb, 1)
    shape = None
    for d in dets:
        shape = predictor(rgb, d)
    if shape is None:
        return None
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)


def sample_frames(mirror: Path, n: int, max_side: int) -> list[np.ndarray]:
    """n frames, one every 0.5 s (<= 3 per clip, clips in sorted order) from the mirror."""
    from petra.video import iter_frames

    out: list[np.ndarray] = []
    for clip in sorted((mirror / "videos").glob("*/*.mp4")):
        for _, f in iter_frames(clip, max_side=max_side, interval_s=0.5, max_frames=3):
            out.append(np.ascontiguousarray(f))
        if len(out) >= n:
            break
    return out[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=os.environ.get("PETRA_SHARED", str(ROOT.parent / "shared")))
    ap.add_argument("--sample-frames", type=int, default=200)
    ap.add_argument("--ref-frames", type=int, default=0, help="time the reference on this many frames (0 = all)")
    args = ap.parse_args()

    import cv2

    cv2.setNumThreads(1)
    import petra.config
    from petra.data.align_reference import align_reference
    from petra.data.ffhq import align_face
    from petra.data.landmarks import Landmarker, _models
    from petra.media import read_image

    cfg = petra.config.load(ROOT / "params.yaml")
    ac = cfg["align"]
    shared = Path(args.shared)
    fx = shared / "fixtures" / "ffhq_align"
    meta = json.loads((fx / "fixture.json").read_text())
    items = [(read_image(fx / it["input"]), read_image(fx / it["expected"]), np.array(it["landmarks_68"], float))
             for it in meta["items"]]
    frames = [img for img, _, _ in items] + sample_frames(shared / "data" / "sample", args.sample_frames,
                                                          cfg["frames"]["max_side"])
    detector, predictor = _models()
    lmk = Landmarker(ac["upsample"], ac["detect_max_side"], ac["min_face_px"])

    # petra: landmarks + alignment on every frame
    ours_lm: list[np.ndarray | None] = []
    t0 = time.perf_counter()
    for f in frames:
        try:
            lm = lmk(f)
        except Exception:  # no face / several faces: a reject, still timed
            ours_lm.append(None)
            continue
        align_face(f, lm, ac["size"])
        ours_lm.append(lm)
    t_ours = time.perf_counter() - t0

    # reference: the same frames (or the first --ref-frames of them)
    ref_set = frames if not args.ref_frames else frames[: args.ref_frames]
    ref_lm = []
    t0 = time.perf_counter()
    for f in ref_set:
        lm = reference_landmarks(detector, predictor, f)
        if lm is not None:
            align_reference(f, lm, ac["size"], ac["size"])
        ref_lm.append(lm)
    t_ref = time.perf_counter() - t0

    # quality on the fixture frames
    given = [psnr(align_face(img, lm, 256).image, exp) for img, exp, lm in items]
    e2e = [psnr(align_face(img, ours_lm[i], 256).image, exp) for i, (img, exp, _) in enumerate(items)
           if ours_lm[i] is not None]
    ref_given = [psnr(align_reference(img, lm), exp) for img, exp, lm in items]
    lm_err = [float(np.abs(ours_lm[i] - lm).mean()) for i, (_, _, lm) in enumerate(items) if ours_lm[i] is not None]

    fps_ours = len(frames) / t_ours
    fps_ref = len(ref_set) / t_ref
    result = {
        "frames": len(frames), "fixture_frames": len(items), "sample_frames": len(frames) - len(items),
        "size": ac["size"], "detect_max_side": ac["detect_max_side"],
        "fps": round(fps_ours, 2), "s_per_frame": round(1 / fps_ours, 4),
        "reference_fps": round(fps_ref, 2), "reference_s_per_frame": round(1 / fps_ref, 4),
        "reference_frames": len(ref_set), "speedup": round(fps_ours / fps_ref, 2),
        "psnr_given_landmarks_mean": round(float(np.mean(given)), 2),
        "psnr_given_landmarks_min": round(float(np.min(given)), 2),
        "psnr_end_to_end_mean": round(float(np.mean(e2e)), 2), "psnr_end_to_end_min": round(float(np.min(e2e)), 2),
        "reference_psnr_given_landmarks_min": round(float(np.min(ref_given)), 2),
        "landmark_mae_px_vs_reference": round(float(np.mean(lm_err)), 3),
        "rejected": int(sum(lm is None for lm in ours_lm)),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
