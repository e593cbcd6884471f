"""The report's figures (PNG): cross-reenactment grid (thesis Fig. 4.2), self-reenactment
strip (Fig. 4.1), landmark-ratio retrieval (Fig. 4.7) and per-frame metric curves.

Every function takes tables already on disk (pairs, per-frame rows, manifest), reads
the crops it shows and writes one PNG atomically; nothing is recomputed here except
the ratios of manifest landmarks for the retrieval figure.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from petra.evaluate.ratios import RATIO_NAMES, landmark_ratios
from petra.plotting import pyplot, save_figure
from petra.media import read_image

CELL = 128  # px per thumbnail
Block = tuple[str, list[str], list[list[np.ndarray]]]  # (title, row labels, rows of thumbnails)


def _thumb(path: str | None, root: Path) -> np.ndarray:
    import cv2


    if not path:
        return np.full((CELL, CELL, 3), 255, np.uint8)
    img = read_image(root / path if not Path(path).is_absolute() else path)
    return cv2.resize(img, (CELL, CELL), interpolation=cv2.INTER_AREA)


def _mosaic(rows: list[list[np.ndarray]]) -> np.ndarray:
    w = max(len(r) for r in rows)
    blank = np.full((CELL, CELL, 3), 255, np.uint8)
    return np.concatenate([np.concatenate(r + [blank] * (w - len(r)), axis=1) for r in rows], axis=0)


def _grid_figure(blocks: list[Block], path: Path, col_title: str) -> None:
    """blocks: (title, row labels, rows of thumbnails); one image per block, stacked."""
    plt = pyplot()
    if not blocks:  # e.g. no self pairs in a tiny profile: say so instead of failing the report
        fig, ax = plt.subplots(figsize=(6, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, f"{col_title}: no pairs of this kind in the pair list", ha="center", va="center")
        save_figure(fig, path)
        return
    heights = [len(r) for _, _, r in blocks]
    width = max(len(r) for _, _, rows in blocks for r in rows)
    fig_h = 1.3 * sum(heights) + 0.5 * len(blocks) + 0.5
    fig, axes = plt.subplots(len(blocks), 1, figsize=(1.3 * width + 1.6, fig_h),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (title, labels, rows) in zip(axes[:, 0], blocks):
        ax.imshow(_mosaic(rows))
        ax.set_yticks([CELL * (i + 0.5) for i in range(len(labels))], labels, fontsize=8)
        ax.set_xticks([])
        ax.set_title(title, fontsize=9, loc="left")
        for s in ax.spines.values():
            s.set_visible(False)
    fig.suptitle(col_title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig_h))  # keep the title clear of the first block
    save_figure(fig, path)


def _outputs(frames: dict[str, pd.DataFrame], method: str, pair_id: str) -> dict[int, str]:
    g = frames[method]
    g = g[g["pair_id"] == pair_id]
    return dict(zip(g["frame_index"].astype(int), g["output_path"]))


# Per pair kind: top-row label, block title from (pair_id, the pair's rows), figure title.
_PAIR_FIGURES: dict[str, tuple[str, Callable[[str, pd.DataFrame], str], str]] = {
    "cross": ("target | driving",
              lambda pid, g: f"{pid}: {g['target_identity'].iloc[0]} driven by {g['driving_video'].iloc[0]}",
              "Cross-reenactment (first column: target; top row: driving frames)"),
    "self": ("source | ground truth",
             lambda pid, g: f"{pid}: {g['driving_video'].iloc[0]}",
             "Self-reenactment (first column: source frame; top row: ground truth)"),
}


def _pair_figure(kind: str, pairs: pd.DataFrame, frames: dict[str, pd.DataFrame], path: Path, root: Path,
                 n_pairs: int, n_frames: int) -> Path:
    """One block per pair of ``kind``: target + driving frames on top, one row of outputs per method.

    The cross grid and the self strip differ only in the pair kind and the labels
    (:data:`_PAIR_FIGURES`), so both are drawn here.
    """
    top_label, title, col_title = _PAIR_FIGURES[kind]
    blocks = []
    for pid in sorted(pairs.loc[pairs["kind"] == kind, "pair_id"].unique())[:n_pairs]:
        g = pairs[pairs["pair_id"] == pid].sort_values("frame_index").head(n_frames)
        target = _thumb(g["target_path"].iloc[0], root)
        rows = [[target] + [_thumb(p, root) for p in g["driving_path"]]]
        labels = [top_label]
        for m in frames:
            outs = _outputs(frames, m, pid)
            rows.append([np.full_like(target, 255)] + [_thumb(outs.get(int(i)), root) for i in g["frame_index"]])
            labels.append(m)
        blocks.append((title(pid, g), labels, rows))
    _grid_figure(blocks, path, col_title)
    return path


def cross_grid(pairs: pd.DataFrame, frames: dict[str, pd.DataFrame], path: Path, root: Path,
               n_pairs: int = 3, n_frames: int = 6) -> Path:
    """Per cross pair: target + driving frames on top, one row of outputs per method."""
    return _pair_figure("cross", pairs, frames, path, root, n_pairs, n_frames)


def self_strip(pairs: pd.DataFrame, frames: dict[str, pd.DataFrame], path: Path, root: Path,
               n_pairs: int = 2, n_frames: int = 6) -> Path:
    """Per self pair: first frame (target) + ground-truth frames, then each method's outputs."""
    return _pair_figure("self", pairs, frames, path, root, n_pairs, n_frames)


def ratio_retrieval(manifest: pd.DataFrame, path: Path, root: Path, n_queries: int = 4, k: int = 5,
                    seed: int = 0) -> Path:
    """For query frames, the k frames of *other* identities with the nearest landmark ratios.

    If the five ratios capture expression, retrieved faces share the query's eye and
    mouth opening despite different identities (thesis Fig. 4.7). Ratios are z-scored
    over the frames searched.
    """
    m = manifest.reset_index(drop=True)
    r = landmark_ratios(np.stack(m["landmarks"].map(np.asarray).to_list()))
    ok = np.isfinite(r).all(axis=1)
    m, r = m[ok].reset_index(drop=True), r[ok]
    z = (r - r.mean(0)) / (r.std(0) + 1e-9)
    # queries: the frames with the most extreme mouth / eye ratios, so the figure shows expressions
    mar, ear = z[:, RATIO_NAMES.index("mar")], z[:, :2].mean(1)
    picks = list(dict.fromkeys([int(np.argmax(mar)), int(np.argmin(ear)), int(np.argmin(mar)), int(np.argmax(ear))]))
    rng = np.random.default_rng(seed)
    while len(picks) < min(n_queries, len(m)):
        picks = list(dict.fromkeys(picks + [int(rng.integers(len(m)))]))
    rows, labels = [], []
    for q in picks[:n_queries]:
        d = np.linalg.norm(z - z[q], axis=1)
        d[m["identity"].to_numpy() == m["identity"].iloc[q]] = np.inf
        near = [int(i) for i in np.argsort(d)[:k] if np.isfinite(d[i])]
        rows.append([_thumb(m["aligned_path"].iloc[q], root)] + [_thumb(m["aligned_path"].iloc[i], root) for i in near])
        labels.append(f"{m['identity'].iloc[q]} mar={r[q, 2]:.2f}")
    _grid_figure([("query | nearest frames of other identities by the 5 landmark ratios", labels, rows)], path,
                 "Landmark-ratio retrieval")
    return path


def metric_curves(frames: dict[str, pd.DataFrame], pair_id: str, path: Path, pose_backend: str,
                  lmk_backend: str) -> Path:
    """Per-frame ratios and pose of one driving video: driving vs each method's output."""
    plt = pyplot()
    names = list(RATIO_NAMES) + ["yaw", "pitch"]
    fig, axes = plt.subplots(2, 4, figsize=(12, 5.5), squeeze=False)
    flat = axes.ravel()
    drv_done = False
    for m, df in frames.items():
        g = df[df["pair_id"] == pair_id].sort_values("frame_index")
        if g.empty:
            continue
        for ax, n in zip(flat, names):
            tag = pose_backend if n in ("yaw", "pitch") else lmk_backend
            if not drv_done:  # a wide grey band under the methods, so copy-driving does not hide it
                ax.plot(g["time_s"], g[f"{n}_drv_{tag}"], "-", color="0.75", lw=6, zorder=1, label="driving")
            ax.plot(g["time_s"], g[f"{n}_out_{tag}"], "-", marker=".", lw=1.2, zorder=2, label=m)
            ax.set_title(f"{n} [{tag}]", fontsize=9)
            ax.set_xlabel("time (s)", fontsize=8)
        drv_done = True
    handles, labels = flat[0].get_legend_handles_labels()
    flat[-1].axis("off")
    flat[-1].legend(handles, labels, loc="center", fontsize=9)
    fig.suptitle(f"Per-frame measurements, pair {pair_id}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return path


def validation_bars(names: Sequence[str], values: Sequence[float], path: Path, title: str) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(names, values)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    return path
