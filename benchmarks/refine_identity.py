"""Does the learned refinement keep the target's identity? Cross-identity clips, in one run.

``mesh-ours-gen`` is the hand-made transfer plus a net that also sees the driver's mouth and
eyes (docs/mesh_refine.md). On self-reenactment pairs the driver *is* the ground truth, so
copying its appearance there is rewarded; on the clips people bring (another person driving
the portrait) the same copy is an identity leak. This benchmark drives sample portraits with
sample clips of other people, renders each frame once by hand and once refined (the refiner
runs on the hand-made crop, so both come from the same frame), and reports per case:

- ``id_hand`` / ``id_refined``: dlib identity distance of the output crop to the target's own
  crop (0 = same embedding; 0.4 is another clip of the same person on the sample set),
  mean over the measured frames;
- ``eye_change`` / ``face_change``: mean absolute change the net makes (grey levels) inside
  the eye regions and inside the face hull.

With ``--pairs`` (a refinement pair set, e.g. ``data/refine/clips`` after ``train_full``)
it also scores the net on that set's validation self pairs three ways, LPIPS against the
ground truth: hand-made, refined, refined with the driver's regions blanked: the last shows
how much of the self-pair gain needs the driver's own appearance.

Cases come from the sample set in code: ``--targets`` portraits and ``--drivers`` clips, evenly
spaced over the sorted lists. Prints one JSON line per case and a summary line; writes
``reports/figures/refine_identity.png`` (git-ignored: sample faces): per case, hand-made |
refined at the middle frame. Usage::

    python benchmarks/refine_identity.py [--method mesh-ours-gen] [--checkpoint PT]
        [--targets 6] [--drivers 4] [--frames 90] [--pairs data/refine/clips]
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

SHARED = Path(os.environ.get("PETRA_SHARED", Path(__file__).resolve().parents[2] / "shared"))
ROOT = Path(__file__).resolve().parents[1]


def spaced(items: list, n: int) -> list:
    """``n`` items evenly spaced over a sorted list (all of it when shorter)."""
    if n >= len(items):
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def changes(hand: np.ndarray, refined: np.ndarray, out_mesh: np.ndarray) -> tuple[float, float]:
    """Mean absolute change (grey levels, mean over RGB) inside the eye regions and the face hull."""
    import cv2

    from petra.generators.mesh.refine.condition import region_masks

    size = hand.shape[0]
    diff = np.abs(refined.astype(np.float32) - hand.astype(np.float32)).mean(-1)
    hull = np.zeros((size, size), np.float32)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(out_mesh[:, :2]).astype(np.int32)), 1.0)
    masks = region_masks(out_mesh, size)
    eyes = np.clip(masks[1] + masks[2], 0.0, 1.0)
    return float((diff * eyes).sum() / max(eyes.sum(), 1.0)), float((diff * hull).sum() / max(hull.sum(), 1.0))


class Identity:
    """dlib's face embedding of an aligned crop (its 68 landmarks found on the crop)."""

    def __init__(self) -> None:
        from petra.evaluate.identity import DlibResnet
        from petra.evaluate.landmarks import Dlib68

        self.emb, self.lm = DlibResnet(), Dlib68()

    def __call__(self, crop: np.ndarray) -> np.ndarray | None:
        return self.emb(crop, self.lm(crop))

    def distance(self, a: np.ndarray | None, crop: np.ndarray) -> float:
        b = self(crop)
        return float("nan") if a is None or b is None else float(np.linalg.norm(a - b))


def run_case(target: np.ndarray, frames: list[np.ndarray], refiner, ident: Identity, size: int,
             every: int = 12) -> tuple[dict[str, float], np.ndarray]:
    """One portrait driven by one clip: the measures above and a hand-made | refined tile."""
    from petra.generators.mesh.render.transfer import MeshConfig, Transfer

    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def hook(tgt, crop, out_mesh, driving, pts, reference):
        y = refiner(tgt, crop, out_mesh, driving, pts, reference)
        kept.append((crop, y, out_mesh))
        return y

    tr = Transfer(target, MeshConfig.from_params(size=size, paste_back=False), video=True, refiner=hook)
    for _ in tr.run_clip(frames, 30.0):
        pass
    tr.close()
    ref = ident(tr.crop)
    rows = []
    for hand, refined, mesh in kept[every // 2::every]:
        rows.append((ident.distance(ref, hand), ident.distance(ref, refined), *changes(hand, refined, mesh)))
    m = np.nanmean(np.array(rows, np.float64), axis=0) if rows else np.full(4, np.nan)
    mid = kept[len(kept) // 2] if kept else (tr.crop, tr.crop, None)
    return ({"id_hand": float(m[0]), "id_refined": float(m[1]), "eye_change": float(m[2]),
             "face_change": float(m[3]), "frames_measured": len(rows)}, np.hstack([mid[0], mid[1]]))


def self_pair_ablation(folder: Path, refiner, cfg, n: int = 256) -> dict[str, float]:
    """LPIPS on the pair set's validation self pairs: hand-made, refined, refined without the driver."""
    import torch

    from petra.generators.mesh.refine.condition import net_input
    from petra.generators.mesh.refine.data import RefineData
    from petra.zoo import load_lpips

    lpips = load_lpips(cfg, "alex")
    d = RefineData.load(folder)
    p = d.pairs
    idx = np.flatnonzero((p["split"] == "val").to_numpy() & (p["kind"] == "self").to_numpy() & p["ok"].to_numpy())
    idx = np.sort(np.random.default_rng(0).choice(idx, min(n, len(idx)), replace=False))
    scores: dict[str, list[float]] = {"hand": [], "refined": [], "refined_no_driver": []}

    def rgb(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0)

    with torch.inference_mode():
        for c in range(0, len(idx), 16):
            ii = idx[c:c + 16]
            rows = p.iloc[ii]
            gt = rgb(np.stack([np.asarray(d.frames[r]) for r in rows["driver"]]))
            x = torch.from_numpy(np.stack([net_input(np.asarray(d.base[i]), np.asarray(d.frames[t]),
                                                     np.asarray(d.luma[i]), np.asarray(d.mask[i]),
                                                     np.asarray(d.ref_luma[i]))
                                           for i, t in zip(ii, rows["target"])]))
            blank = x.clone()
            blank[:, 6:] = 0.0
            scores["hand"] += lpips(x[:, :3], gt).flatten().tolist()
            scores["refined"] += lpips(refiner.net(x), gt).flatten().tolist()
            scores["refined_no_driver"] += lpips(refiner.net(blank), gt).flatten().tolist()
    out = {f"self_lpips_{k}": float(np.mean(v)) for k, v in scores.items()}
    gain = out["self_lpips_hand"] - out["self_lpips_refined"]
    kept = out["self_lpips_hand"] - out["self_lpips_refined_no_driver"]
    out["self_pairs"] = int(len(idx))
    out["share_of_gain_needing_driver"] = float(1.0 - kept / gain) if gain > 0 else float("nan")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="mesh-ours-gen")
    ap.add_argument("--checkpoint", default=None, help="a refinement checkpoint instead of the method's")
    ap.add_argument("--targets", type=int, default=6)
    ap.add_argument("--drivers", type=int, default=4)
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--pairs", default=None, help="refinement pair set for the self-pair ablation")
    ap.add_argument("--figure", default=str(ROOT / "reports/figures/refine_identity.png"))
    args = ap.parse_args()

    import cv2

    from petra.config import load
    from petra.generators.mesh.refine.reenactor import engine_refiner
    from petra.io import write_image
    from petra.media import read_image
    from petra.video import iter_frames

    cfg = load(ROOT / "params.yaml")
    refiner = engine_refiner(cfg, args.method, args.checkpoint)
    if refiner is None:
        raise SystemExit(f"{args.method}: not a refined mesh method")
    sample = SHARED / "data/sample"
    targets = spaced(sorted((sample / "images").glob("*.jpg")), args.targets)
    clips = spaced(sorted(p for p in (sample / "videos").iterdir() if p.is_dir()), args.drivers)
    ident = Identity()
    rows, tiles = [], []
    for t in targets:
        target = read_image(t)
        for clip in clips:
            video = sorted(clip.glob("*.mp4"))[0]
            frames = [f for _, f in iter_frames(video, max_frames=args.frames)]
            r, tile = run_case(target, frames, refiner, ident, args.size)
            r = {"target": t.stem, "driver": f"{clip.name}/{video.stem}", **r}
            rows.append(r)
            tiles.append(tile)
            print(json.dumps(r), flush=True)
    keys = ("id_hand", "id_refined", "eye_change", "face_change")
    summary = {k: float(np.nanmean([r[k] for r in rows])) for k in keys}
    summary["cases"] = len(rows)
    summary["cases_refined_farther"] = int(sum(r["id_refined"] > r["id_hand"] for r in rows))
    summary["id_ratio"] = summary["id_refined"] / summary["id_hand"]
    if args.pairs:
        summary.update(self_pair_ablation(Path(args.pairs), refiner, cfg))
    print(json.dumps({"summary": summary, "method": args.method,
                      "checkpoint": str(refiner.checkpoint)}), flush=True)
    cell = 128
    grid = [cv2.resize(t, (2 * cell, cell), interpolation=cv2.INTER_AREA) for t in tiles]
    per_row = max(1, min(len(clips), 4))
    rows_img = [np.hstack(grid[i:i + per_row] + [np.zeros_like(grid[0])] * (per_row - len(grid[i:i + per_row])))
                for i in range(0, len(grid), per_row)]
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    write_image(args.figure, np.vstack(rows_img))


if __name__ == "__main__":
    main()
