"""Where FL-CORR [dlib] is lost, link by link, for a mesh method on the sample's cross pairs.

FL-CORR correlates dlib's landmark ratios (eye, mouth, brow) of each driving frame with
those of the output, per pair. A mesh method never sees dlib: it follows MediaPipe's mesh of
the driver, moves the target's mesh, and renders pixels that dlib reads again. So the score
is a chain, and each link is measured here on the same pairs and frames (per-pair Pearson,
averaged over pairs, per ratio):

- ``readers``: dlib vs MediaPipe ratios on the same real driving frames (what no engine
  driven by MediaPipe can exceed by following MediaPipe more closely);
- ``transfer``: the driver's MediaPipe ratios vs the output mesh's (the engine's retargeting);
- ``render_dlib`` / ``render_mp``: the output mesh vs dlib / MediaPipe reading the rendered
  output (does the picture show what the mesh says);
- ``end_to_end``: dlib on the driver vs dlib on the output (FL-CORR itself, recomputed).

Run after the sample evaluation (``snakemake --cores all``), from the repo root::

    python benchmarks/flcorr_chain.py [--methods mesh-relative,mesh-absolute]

One JSON line per method.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or a[ok].std() < 1e-9 or b[ok].std() < 1e-9:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def chain(method: str, root: Path) -> dict:
    from petra import generators
    from petra.config import load
    from petra.errors import NoFaceError
    from petra.evaluate.ratios import RATIO_NAMES, landmark_ratios
    from petra.evaluate.runner import read_crop
    from petra.geometry.canonical import DLIB68_FROM_MESH
    from petra.geometry.facemesh import FaceMesh

    cfg = load(root / "params.yaml", profile="sample")
    size = int(cfg["align"]["size"])
    pairs = pd.read_parquet(root / "data/eval/pairs.parquet")
    pairs = pairs[pairs.kind == "cross"]
    ev = pd.read_parquet(root / f"data/eval/{method}.parquet")
    ev = ev[ev.kind == "cross"]
    nan5 = np.full(len(RATIO_NAMES), np.nan)

    def mesh_ratios(pts: np.ndarray | None) -> np.ndarray:
        return nan5 if pts is None else landmark_ratios(pts[DLIB68_FROM_MESH, :2])

    links: dict[str, list[np.ndarray]] = {k: [] for k in ("readers", "transfer", "render_dlib", "render_mp",
                                                            "end_to_end")}
    r = generators.create(method, cfg)
    with FaceMesh(static=True) as fm:
        for pid, g in pairs.groupby("pair_id", sort=True):
            g = g.sort_values("frame_index")
            e = ev[ev.pair_id == pid].sort_values("frame_index")
            if len(e) != len(g):
                continue
            first = g.iloc[0]
            r.set_target(read_crop(first.target_path, root, size))
            r.set_reference(read_crop(first.reference_path, root, size))
            frames = [read_crop(p, root, size) for p in g.driving_path]
            r.set_clip(frames)
            drv_mp, out_mesh, out_mp = [], [], []
            for f in frames:
                try:
                    pts = fm.detect(f)
                except NoFaceError:
                    pts = None
                drv_mp.append(mesh_ratios(pts))
                out = r.engine_output(f)
                out_mesh.append(mesh_ratios(None if out is None else out.mesh))
                try:
                    out_mp.append(mesh_ratios(fm.detect(out.crop)) if out is not None else nan5)
                except NoFaceError:
                    out_mp.append(nan5)
            dd = e[[f"{n}_drv_dlib" for n in RATIO_NAMES]].to_numpy(float)
            od = e[[f"{n}_out_dlib" for n in RATIO_NAMES]].to_numpy(float)
            dm, om, mp = np.array(drv_mp), np.array(out_mesh), np.array(out_mp)
            for key, (a, b) in {"readers": (dd, dm), "transfer": (dm, om), "render_dlib": (om, od),
                                "render_mp": (om, mp), "end_to_end": (dd, od)}.items():
                links[key].append(np.array([_corr(a[:, j], b[:, j]) for j in range(len(RATIO_NAMES))]))
    r.close()
    out: dict = {"benchmark": "flcorr_chain", "method": method, "pairs": len(links["readers"])}
    for key, rows in links.items():
        per = np.nanmean(np.stack(rows), axis=0)
        out[key] = round(float(np.nanmean(per)), 3)
        out[f"{key}_per_ratio"] = {n: round(float(v), 3) for n, v in zip(RATIO_NAMES, per)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="mesh-relative,mesh-absolute")
    ap.add_argument("--root", default=str(ROOT))
    args = ap.parse_args()
    for m in args.methods.split(","):
        print(json.dumps(chain(m, Path(args.root))), flush=True)


if __name__ == "__main__":
    main()
