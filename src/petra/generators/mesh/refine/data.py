"""The refinement's training set: frames of the training clips and hand-made renders of pairs.

Why precomputed: the net learns to correct the *exact* hand-made transfer that
evaluation and ``petra transfer`` run (``mesh-relative`` with every layer), which is a
numpy/MediaPipe renderer, not a torch graph. Rendering each pair once (~25 ms) and
storing base, driver regions and masks makes a training step cost only the net.

* frames: ``source: manifest`` takes the manifest's aligned crops (the 0.5 s samples:
  a fine-tune on the sample, ``train.steps`` > 0); ``source: clips`` decodes every
  ``frame_step``-th frame of every train/val clip and aligns it as the align stage does
  (FFHQ alignment on dlib landmarks), for the full training;
* self pairs (target, driver = ground truth) from one clip, targets spread over the clip,
  drivers drawn with probability growing with the landmark motion from the target
  (within ``max_gap_s``), so there is an error to fix; the reference of the relative
  transfer is the target itself (as evaluation's self pairs) or, for a
  ``clip_reference`` share, the driver's neutral face over the clip (as ``petra transfer``);
* cross pairs (target of one identity, a run of frames of another identity's clip,
  reference = the clip's neutral face as evaluation does): no ground truth; they keep
  identity (the net must not move the result away from the target's face).

The folder (``frames.npy``, ``base.npy``, ``luma.npy``, ``ref_luma.npy``, ``mask.npy``, ``frames.parquet``,
``pairs.parquet``, ``done.json``) is written under a temporary name and renamed when
complete; the same params and seed give the same pairs.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from petra.errors import InputError, PetraError
from petra.io import write_json
from petra.media import read_image
from petra.params import TrainMeshRefineData
from petra.paths import listing
from petra.video import iter_frames

VERSION = 6  # the pair set is the engine's output: bump when its renders change (2: aligned framing passed on whole; 3: closed-eye fill; 4: matted head layer, small-driver mouth; 5: colour kept in a colour target's mouth interior; 6: the reference frame's regions, ref_luma)


DataOptions = TrainMeshRefineData  # ``train_mesh.refine.data``: typed in petra.params, built by petra.config.build


@dataclass
class RefineData:
    """The loaded set (arrays memory-mapped)."""

    frames: np.ndarray   # [N, S, S, 3] uint8
    table: pd.DataFrame  # per frame: clip, identity, split, time_s, landmarks (dlib-68, crop px)
    pairs: pd.DataFrame  # per pair: kind, split, target, driver (frame rows), group
    base: np.ndarray     # [P, S, S, 3] uint8 hand-made render
    luma: np.ndarray     # [P, S, S] uint8 driver luma on the output's regions
    mask: np.ndarray     # [P, S, S] uint8 region mask
    ref_luma: np.ndarray  # [P, S, S] uint8 the driver's reference frame's luma on the same regions

    @classmethod
    def load(cls, folder: str | Path) -> "RefineData":
        f = Path(folder)
        if not (f / "done.json").is_file():
            raise InputError(f, "refinement data incomplete (no done.json); run `petra refine-data`")
        m = {k: np.load(f / f"{k}.npy", mmap_mode="r") for k in ("frames", "base", "luma", "mask", "ref_luma")}
        return cls(m["frames"], pd.read_parquet(f / "frames.parquet"), pd.read_parquet(f / "pairs.parquet"),
                   m["base"], m["luma"], m["mask"], m["ref_luma"])


# ---------------------------------------------------------------- frames

def _manifest_frames(manifest: pd.DataFrame, splits: tuple[str, ...], root: Path, size: int
                     ) -> tuple[np.ndarray, pd.DataFrame]:

    rows = manifest[manifest["split"].isin(list(splits))].sort_values(["video", "time_s"]).reset_index(drop=True)
    frames = np.zeros((len(rows), size, size, 3), np.uint8)
    keep = []
    for i, r in rows.iterrows():
        img = read_image(root / str(r["aligned_path"]))
        if img.shape[:2] != (size, size):
            continue
        frames[i] = img
        keep.append(i)
    rows = rows.loc[keep]
    table = pd.DataFrame({"clip": rows["video"].astype(str), "identity": rows["identity"].astype(str),
                          "split": rows["split"].astype(str), "time_s": rows["time_s"].astype(float),
                          "landmarks": [np.asarray(v, np.float32).reshape(-1).tolist() for v in rows["landmarks"]]})
    return frames[keep], table.reset_index(drop=True)


def _clip_job(args: tuple[str, str, str, str, int, int, int, dict[str, Any], str]) -> dict[str, Any]:
    """Decode and align one clip's frames (a worker process); frames go to ``out`` as .npy."""
    path, clip, identity, split, step, cap, size, align, out = args
    import cv2

    from petra.data.ffhq import align_face
    from petra.data.landmarks import Landmarker

    cv2.setNumThreads(1)
    lm = Landmarker(int(align.get("upsample", 1)), int(align.get("detect_max_side", 320)), int(align.get("min_face_px", 40)))
    decoded = [(t, f) for k, (t, f) in enumerate(iter_frames(path, max_side=1024, on_partial=None)) if k % step == 0]
    if len(decoded) > cap:
        decoded = [decoded[i] for i in np.linspace(0, len(decoded) - 1, cap).round().astype(int)]
    crops, times, marks = [], [], []
    for t, rgb in decoded:
        try:
            a = align_face(rgb, lm(rgb, path), size)
        except PetraError:
            continue
        crops.append(a.image)
        times.append(float(t))
        marks.append(a.landmarks.reshape(-1).astype(np.float32).tolist())
    arr = np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8)
    np.save(out, arr)
    return {"clip": clip, "identity": identity, "split": split, "times": times, "landmarks": marks, "file": out}


def _clip_frames(cfg: Mapping[str, Any], manifest: pd.DataFrame, opts: DataOptions, tmp: Path,
                 log: Callable[[str], None]) -> tuple[np.ndarray, pd.DataFrame]:
    from multiprocessing import get_context

    from tqdm import tqdm


    videos = manifest[manifest["split"].isin(list(opts.splits))].groupby("video", sort=True).first()
    lst = pd.read_parquet(listing(cfg)).set_index("video")
    size = int(cfg["align"]["size"])
    jobs = []
    for k, (video, r) in enumerate(videos.iterrows()):
        if video not in lst.index:
            log(f"refine-data: {video}: not in the ingest listing; skipped")
            continue
        jobs.append((str(lst.loc[video, "path"]), str(video), str(r["identity"]), str(r["split"]), opts.frame_step,
                     opts.max_frames_per_clip, size, dict(cfg["align"]), str(tmp / f"clip{k:04d}.npy")))
    with get_context("spawn").Pool(max(1, opts.workers)) as pool:
        done = list(tqdm(pool.imap(_clip_job, jobs), total=len(jobs), desc="refine-data: align clip frames", unit="clip"))
    arrays, rows = [], []
    for d in done:
        a = np.load(d["file"])
        os.unlink(d["file"])
        arrays.append(a)
        rows += [{"clip": d["clip"], "identity": d["identity"], "split": d["split"], "time_s": t, "landmarks": m}
                 for t, m in zip(d["times"], d["landmarks"])]
    return np.concatenate(arrays) if arrays else np.zeros((0, size, size, 3), np.uint8), pd.DataFrame(rows)


# ---------------------------------------------------------------- pairs

def choose_pairs(table: pd.DataFrame, opts: DataOptions) -> pd.DataFrame:
    """Self groups (target + drivers of its clip, large motion favoured) and cross groups (a target of
    another identity + a run of a clip's frames). One row per driven frame, in driving order."""
    rng = np.random.default_rng(opts.seed)
    lm = np.stack([np.asarray(v, np.float32) for v in table["landmarks"]]).reshape(len(table), -1, 2)
    rows: list[dict[str, Any]] = []
    group = 0
    clips = {c: g.sort_values("time_s").index.to_numpy() for c, g in table.groupby("clip", sort=True)}
    for clip, idx in clips.items():
        split = str(table.loc[idx[0], "split"])
        if len(idx) < 3:
            continue
        t = table.loc[idx, "time_s"].to_numpy()
        for ti in np.linspace(0, len(idx) - 1, opts.targets_per_clip + 2)[1:-1].round().astype(int):
            near = np.flatnonzero((np.abs(t - t[ti]) <= opts.max_gap_s) & (np.arange(len(idx)) != ti))
            if len(near) == 0:
                continue
            motion = np.linalg.norm(lm[idx[near]] - lm[idx[ti]], axis=-1).mean(-1)
            p = motion + 0.5 + 1e-6
            p = p / p.sum()
            pick = np.sort(rng.choice(near, size=min(opts.drivers_per_target, len(near)), replace=False, p=p))
            ref = "clip" if rng.random() < opts.clip_reference else "target"
            for j in pick:
                rows.append({"group": group, "kind": "self", "split": split, "target": int(idx[ti]),
                             "driver": int(idx[j]), "reference": ref})
            group += 1
    ids = table["identity"].to_numpy()
    for clip, idx in clips.items():
        split = str(table.loc[idx[0], "split"])
        others = np.flatnonzero((ids != ids[idx[0]]) & (table["split"].to_numpy() == split))
        if len(others) == 0 or len(idx) < 3:
            continue
        for _ in range(opts.cross_per_clip):
            target = int(rng.choice(others))
            n = min(opts.drivers_per_target, len(idx))
            s = int(rng.integers(0, len(idx) - n + 1))
            for j in idx[s:s + n]:
                rows.append({"group": group, "kind": "cross", "split": split, "target": target, "driver": int(j),
                             "reference": "clip"})
            group += 1
    return pd.DataFrame(rows, columns=["group", "kind", "split", "target", "driver", "reference"])


# ---------------------------------------------------------------- renders

class _Recorder:
    """A refiner that changes nothing and keeps the net's inputs of the last frame."""

    def __init__(self) -> None:
        self.last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __call__(self, target: np.ndarray, crop: np.ndarray, out_mesh: np.ndarray, driving: np.ndarray,
                 pts: np.ndarray, reference: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        from .condition import regions_with_reference

        luma, mask, ref = regions_with_reference(driving, pts, out_mesh, crop.shape[0], reference)
        # relative mode always has a reference here (set_reference / set_clip before driving)
        self.last = (luma, mask, luma if ref is None else ref)
        return crop


_WORKER: dict[str, Any] = {}


def _render_init(frames_path: str, cfg: Mapping[str, Any]) -> None:
    import cv2

    cv2.setNumThreads(1)
    _WORKER["frames"] = np.load(frames_path, mmap_mode="r")
    _WORKER["cfg"] = cfg


def _render_group(rows: list[dict[str, Any]]) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Render one group (one target, its drivers in order) with the hand-made transfer."""
    from ..methods import MeshReenactor

    frames, cfg = _WORKER["frames"], _WORKER["cfg"]
    rec = _Recorder()
    r = MeshReenactor(cfg, "relative", refiner=rec)
    size = frames.shape[1]
    n = len(rows)
    base = np.zeros((n, size, size, 3), np.uint8)
    luma, mask, ref = (np.zeros((n, size, size), np.uint8) for _ in range(3))
    ok = np.zeros(n, bool)
    try:
        r.set_target(np.asarray(frames[rows[0]["target"]]))
        drivers = [np.asarray(frames[x["driver"]]) for x in rows]
        if rows[0]["reference"] == "target":
            r.set_reference(np.asarray(frames[rows[0]["target"]]))
        else:
            r.set_reference(drivers[0])
            r.set_clip(drivers)
        for k, d in enumerate(drivers):
            rec.last = None
            out = r.drive(d)
            if rec.last is None:  # no face in the driver: the target came back, nothing to learn
                continue
            base[k], (luma[k], mask[k], ref[k]) = out, rec.last
            ok[k] = True
    except PetraError:
        pass
    finally:
        r.close()  # MediaPipe graphs: ~10 MB per group otherwise (a build of 1 000 groups ran out of memory)
    return rows[0]["group"], ok, base, luma, mask, ref


def build(cfg: Mapping[str, Any], manifest: pd.DataFrame, out: str | Path, opts: DataOptions, root: str | Path = ".",
          log: Callable[[str], None] = print) -> Path:
    """Build the folder ``out`` (see the module docstring); an existing complete one with the same
    options is kept."""
    from multiprocessing import get_context

    from tqdm import tqdm


    out = Path(out)
    mesh = {k: v for k, v in cfg["mesh"].items() if k != "method"}  # the hand-made transfer's settings
    depends = {"version": VERSION, "options": asdict(opts), "align": dict(cfg["align"]), "mesh": mesh}
    done = out / "done.json"
    if done.is_file() and json.loads(done.read_text()).get("depends") == json.loads(json.dumps(depends)):
        log(f"refine-data: {out} is up to date")
        return out
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    size = int(cfg["align"]["size"])
    if opts.source == "manifest":
        frames, table = _manifest_frames(manifest, opts.splits, Path(root), size)
    else:
        frames, table = _clip_frames(cfg, manifest, opts, tmp, log)
    if len(table) == 0:
        raise InputError(out, "no frames for the refinement data")
    np.save(tmp / "frames.npy", frames)
    table.to_parquet(tmp / "frames.parquet", index=False)
    pairs = choose_pairs(table, opts)
    groups = [g.to_dict("records") for _, g in pairs.groupby("group", sort=True)]
    base = np.lib.format.open_memmap(tmp / "base.npy", "w+", np.uint8, (len(pairs), size, size, 3))
    luma = np.lib.format.open_memmap(tmp / "luma.npy", "w+", np.uint8, (len(pairs), size, size))
    mask = np.lib.format.open_memmap(tmp / "mask.npy", "w+", np.uint8, (len(pairs), size, size))
    ref = np.lib.format.open_memmap(tmp / "ref_luma.npy", "w+", np.uint8, (len(pairs), size, size))
    ok = np.zeros(len(pairs), bool)
    start = {int(g[0]["group"]): int(i) for g, i in zip(groups, np.cumsum([0] + [len(g) for g in groups[:-1]]))}
    plain_cfg = json.loads(json.dumps(cfg, default=str))
    with get_context("spawn").Pool(max(1, opts.workers), _render_init, (str(tmp / "frames.npy"), plain_cfg),
                                   maxtasksperchild=200) as pool:  # bounds whatever native memory a worker keeps
        for gid, k, b, lu, m, rl in tqdm(pool.imap(_render_group, groups), total=len(groups),
                                      desc="refine-data: hand-made renders", unit="group"):
            s = start[gid]
            base[s:s + len(k)], luma[s:s + len(k)], mask[s:s + len(k)], ok[s:s + len(k)] = b, lu, m, k
            ref[s:s + len(k)] = rl
    base.flush(), luma.flush(), mask.flush(), ref.flush()
    pairs["ok"] = ok
    pairs.to_parquet(tmp / "pairs.parquet", index=False)
    summary = {"frames": len(table), "clips": int(table["clip"].nunique()), "pairs": int(ok.sum()),
               "pairs_failed": int((~ok).sum()),
               "by_kind": {f"{k}/{s}": int(n) for (k, s), n in pairs[ok].groupby(["kind", "split"]).size().items()}}
    write_json(tmp / "done.json", {"depends": depends, "summary": summary})
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    log(f"refine-data: {summary['frames']} frames of {summary['clips']} clips, {summary['pairs']} pairs "
        f"({summary['by_kind']}), {summary['pairs_failed']} without a face -> {out}")
    return out
