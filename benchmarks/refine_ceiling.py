"""How much self-pair LPIPS a face refinement can win at all (issue 13's −10 % goal).

On a self pair the target is one frame of a clip and the ground truth another; outside the
face (hair, neck, background, which the per-frame alignment moves) the two differ in ways
no method that sees only the target and the driver's face can know. Two oracles on the
sample evaluation's self pairs, per method, bound it:

- ``face_oracle``: the method's output with every pixel inside the ground truth's face oval
  (MediaPipe, grown by 3 px) replaced by the ground truth: what a perfect refinement of
  the face alone would score;
- ``face_only``: the ground truth with the method's face pasted in: the error the face
  region carries by itself.

``captured``: the share of the reachable face gain (``mesh-relative`` − its face oracle) a
method realised. Run after the sample evaluation (``snakemake --cores all``)::

    python benchmarks/refine_ceiling.py [--methods mesh-relative,mesh-ours-gen,copy-target]

One JSON line.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def oval_mask(points: np.ndarray, size: int, grow: int = 3) -> np.ndarray:
    """[S, S, 1] bool: the face oval of a MediaPipe mesh, grown by ``grow`` px."""
    import cv2

    from petra.geometry.canonical import canonical_face

    m = np.zeros((size, size), np.uint8)
    cv2.fillPoly(m, [points[canonical_face().loops["oval"], :2].round().astype(np.int32)], 1)
    k = 2 * grow + 1
    return cv2.dilate(m, np.ones((k, k), np.uint8)).astype(bool)[..., None]


def measure(method: str, root: Path, lpips, masks: dict) -> dict:
    from petra.evaluate.runner import read_crop

    ev = pd.read_parquet(root / f"data/eval/{method}.parquet")
    ev = ev[ev.kind == "self"]
    rows = []
    for r in ev.itertuples():
        out, gt = read_crop(r.output_path, root, 256), read_crop(r.driving_path, root, 256)
        m = masks.get(r.driving_path)
        if m is None:
            continue
        rows.append({"pair": r.pair_id, "lpips": lpips(out, gt), "face_oracle": lpips(np.where(m, gt, out), gt),
                     "face_only": lpips(np.where(m, out, gt), gt)})
    d = pd.DataFrame(rows).groupby("pair").mean()  # frames first, then pairs (as the results table)
    return {k: round(float(d[k].mean()), 4) for k in ("lpips", "face_oracle", "face_only")} | {"pairs": len(d)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="mesh-relative,mesh-ours-gen,copy-target")
    ap.add_argument("--root", default=str(ROOT))
    args = ap.parse_args()
    from petra.errors import NoFaceError
    from petra.evaluate.perceptual import Lpips
    from petra.evaluate.runner import read_crop
    from petra.geometry.facemesh import FaceMesh

    root = Path(args.root)
    pairs = pd.read_parquet(root / "data/eval/pairs.parquet")
    masks: dict[str, np.ndarray] = {}
    with FaceMesh(static=True) as fm:
        for p in sorted(set(pairs[pairs.kind == "self"].driving_path)):
            try:
                masks[p] = oval_mask(fm.detect(read_crop(p, root, 256)), 256)
            except NoFaceError:
                continue
    lp = Lpips("alex")
    res = {m: measure(m, root, lp, masks) for m in args.methods.split(",")}
    out: dict = {"benchmark": "refine_ceiling", "methods": res}
    base = res.get("mesh-relative")
    if base is not None:
        reach = base["lpips"] - base["face_oracle"]
        out["face_oracle_ratio"] = round(base["face_oracle"] / base["lpips"], 3)  # best a face-only method can do
        out["captured"] = {m: round((base["lpips"] - r["lpips"]) / reach, 3) for m, r in res.items() if reach > 0}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
