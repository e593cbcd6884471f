"""Figure: cross-identity mesh transfer, sample targets x driving frames -> transfer_grid.png.

Top row: driving frames of other identities' videos (strong expressions from the
MEAD-style clips, head turns, talking), each picked automatically as the frame that
moves most away from its video's first frame; first column: targets (sample
portraits and video frames). Each cell is the target driven in ``relative`` mode
(reference = the driving video's first frame). Run with ``petra transfer-grid``.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from petra.config import load
from petra.paths import figure
from petra.video import iter_frames
from petra.errors import NoFaceError
from petra.io import write_image
from petra.media import read_image

# (video under videos/, what to look for)
DRIVERS = (
    ("id0043/spectre_M026_level_3_disgusted_018.mp4", "expression"),
    ("id0042/spectre_M024_level_2_surprised_010.mp4", "expression"),
    ("id0044/spectre_M030_level_3_angry_016.mp4", "expression"),
    ("id0001/LivePortrait_d0.mp4", "expression"),
    ("id0012/LivePortrait_d12.mp4", "pose"),
    ("id0011/LivePortrait_d11.mp4", "pose"),
    ("id0014/LivePortrait_d14.mp4", "gaze"),
)
TARGETS = (
    "images/LivePortrait_s0.jpg",
    "images/EAMM_anne.jpg",
    "images/LIA_monroe.jpg",
    "images/first-order-model_statue-01.jpg",
    "images/LivePortrait_s10.jpg",
    "videos/id0022/SadTalker_WDA_AlexandriaOcasioCortez_000.mp4",
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, help="PNG to write (default: <reports>/figures/transfer_grid.png)")
    parser.add_argument("--cell", type=int, default=256, help="cell size in pixels")


def main(args: argparse.Namespace) -> int:

    cfg = load(args.params, args.profile)
    out = Path(args.out) if args.out else figure(cfg, "transfer_grid")
    run_transfer_grid(cfg, out, cell=args.cell)
    print(f"petra transfer-grid: wrote {out}", file=sys.stderr)
    return 0


def _first_frame(path: Path) -> np.ndarray:

    return next(iter(iter_frames(path, max_frames=1)))[1]


def pick_frame(video: Path, kind: str, step_s: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(first frame, its mesh, the frame that moves most, its mesh) of a driving video."""
    from ..geometry.canonical import IRIS_LEFT, IRIS_RIGHT
    from ..geometry.facemesh import FaceMesh
    from ..geometry.frame import rotation_to_euler
    from ..geometry.motion import fit_face

    ref = best = None
    best_score = -1.0
    with FaceMesh(static=True) as fm:
        for _, frame in iter_frames(video, interval_s=step_s):
            try:
                pts = fm.detect(frame)
            except NoFaceError:
                continue
            f = fit_face(pts)
            if ref is None:
                ref = (frame, pts, f)
                continue
            if kind == "pose":
                score = float(np.abs(rotation_to_euler(f.pose.rotation @ ref[2].pose.rotation.T)[:2]).sum())
            elif kind == "gaze":
                iris = np.r_[IRIS_RIGHT[:1], IRIS_LEFT[:1]]
                score = float(np.abs(f.expression[iris] - ref[2].expression[iris]).sum())
            else:
                score = float(np.linalg.norm(f.shape[:468] - ref[2].shape[:468], axis=1).mean())
            if score > best_score:
                best, best_score = (frame, pts), score
    if ref is None or best is None:
        raise NoFaceError(video, "no usable driving frames")
    return ref[0], ref[1], best[0], best[1]


def run_transfer_grid(cfg: Mapping[str, Any], out: Path, cell: int = 256) -> np.ndarray:
    import cv2
    from tqdm import tqdm

    from petra.generators.mesh.render.transfer import MeshConfig, Transfer

    root = Path(cfg["dataset"]["mirror"])
    mc = MeshConfig.from_params(cfg, mode="relative", paste_back=False, size=256)
    drivers = [pick_frame(root / "videos" / v, kind) for v, kind in DRIVERS]

    def tile(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        s = min(h, w)
        y0, x0 = (h - s) // 2, (w - s) // 2
        return cv2.resize(np.ascontiguousarray(img[y0:y0 + s, x0:x0 + s]), (cell, cell), interpolation=cv2.INTER_AREA)

    rows = [np.hstack([np.full((cell, cell, 3), 255, np.uint8)] + [tile(d[2]) for d in drivers])]
    for t in tqdm(TARGETS, desc="transfer-grid", unit="target", leave=False):
        timg = _first_frame(root / t) if t.startswith("videos/") else read_image(root / t)
        tr = Transfer(timg, mc, video=False, path=t)
        cells = [tile(tr.crop)]
        for ref_img, ref_pts, img, pts in drivers:
            tr.set_reference(ref_img, ref_pts)
            cells.append(tile(tr.drive(img, pts=pts).crop))
        tr.close()
        rows.append(np.hstack(cells))
    grid = np.vstack(rows)
    write_image(out, grid)
    return grid
