"""Checkpoint selection: the best total validation loss (released code) or validation metrics (thesis text).

``train.selection: val_loss`` (the released code's ``best_model.pt``): the loop kept
``checkpoints/best.pt`` whenever the total validation loss improved; that file is chosen
(without it, the snapshot with the lowest logged ``val_total``).

``train.selection: metrics`` (the thesis text: checkpoints chosen by validation
expression/pose metrics):

For every checkpoint of a run, the variant reenacts ``select.pairs`` fixed
validation pairs (driving frame of a val identity, target frame of another
identity; drawn from ``select.seed``) and the evaluation helper's evaluators
(:class:`petra.evaluate.analyzer.Analyzer`, backends from ``evaluate.backends``)
measure the output against the driving frame, with the metrics of kind ``val`` of the one
metrics table (:mod:`petra.evaluate.metrics`: columns, direction; per-frame values from
:func:`petra.evaluate.runner.val_frame_row`):

* ``val_pose_mae_<pose backend>``: mean |Δyaw| and |Δpitch| in degrees;
* ``val_ratio_mae_<landmark backend>``: mean |Δ| of the five landmark ratios
  (eye/mouth aspect, brow–eye) behind FL-CORR.

Checkpoints are ranked on each metric in the table's direction; the best mean rank wins
(ties: later step).
When no output had a measurable face (e.g. the smoke profile's random generator)
the lowest validation loss decides and the selection file says so in ``criterion``.
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from petra.config import build
from petra.errors import InputError
from petra.evaluate.metrics import for_table_column, of_kind
from petra.io import write_json
from petra.media import read_image
from petra.params import Select
from petra.paths import frames_manifest, run_dir, selected_path

from . import checkpoint as ckpt

if TYPE_CHECKING:  # annotations only: pandas loads when a function needs it
    import pandas as pd
    from petra.evaluate.analyzer import Analyzer


def selected_checkpoint(cfg: Mapping[str, Any], method: str, allow_latest: bool = True) -> Path | None:
    """The checkpoint ``petra select`` chose, else (``allow_latest``) the run's latest, else None."""
    best = selected_path(cfg, method)
    if best.is_file():
        return Path(json.loads(best.read_text())["checkpoint"])
    return ckpt.latest_checkpoint(run_dir(cfg, method)) if allow_latest else None


def validation_pairs(manifest: pd.DataFrame, n: int, seed: int) -> list[tuple[dict, dict]]:
    """(target row, driving row) pairs: driving from the val split, target of another identity."""
    val = manifest[manifest["split"] == "val"].sort_values("aligned_path").reset_index(drop=True)
    if val.empty:
        raise InputError("manifest", "no val frames to select a checkpoint with")
    pool = manifest[manifest["split"].isin(["val", "train"])].sort_values("aligned_path").reset_index(drop=True)
    rng = np.random.default_rng([seed, 0x5E1EC7])
    pairs = []
    for _ in range(n):
        d = val.loc[int(rng.integers(len(val)))]
        others = pool[pool["identity"] != d["identity"]]
        t = others.loc[others.index[int(rng.integers(len(others)))]]
        pairs.append((t.to_dict(), d.to_dict()))
    return pairs


def score_outputs(an: Analyzer, outs: list[np.ndarray], drvs: list[np.ndarray]) -> dict[str, float]:
    """The selection metrics (:mod:`petra.evaluate.metrics`, kind ``val``) of one checkpoint's outputs:
    results column -> its per-frame error averaged over the pairs where both images were measurable (NaN: none)."""
    from petra.evaluate.runner import val_frame_row  # deferred: pandas and the evaluators' modules

    frames = [val_frame_row(an, o, d) for o, d in zip(outs, drvs)]
    columns = list(dict.fromkeys(c for f in frames for c in f))
    out = {}
    for m in of_kind("val"):
        for col in m.frame_columns(columns):
            values = [f[col] for f in frames if not math.isnan(f[col])]
            out[m.table_column(col)] = float(np.mean(values)) if values else math.nan
    return out


def _ranks(values: list[float], higher_is_better: bool) -> list[float]:
    sign = -1.0 if higher_is_better else 1.0
    order = sorted(range(len(values)), key=lambda i: (math.isnan(values[i]), sign * values[i]))
    r = [0.0] * len(values)
    for rank, i in enumerate(order):
        r[i] = float(rank)
    return r


def choose(rows: list[dict[str, Any]]) -> tuple[int, str]:
    """(index of the chosen checkpoint row, criterion): the best mean rank over the selection metrics
    (kind ``val`` of the metrics table) some checkpoint could measure, ties to the later step; without
    any, the lowest ``val_total``."""
    metrics = {c: m for c in rows[0] if (m := for_table_column(c)) is not None and m.kind == "val"}
    measurable = [c for c in metrics if any(not math.isnan(r[c]) for r in rows)]
    if measurable:
        ranks = np.mean([_ranks([r[c] for r in rows], metrics[c].higher_is_better) for c in measurable], axis=0)
        best = min(range(len(rows)), key=lambda i: (ranks[i], -rows[i]["step"]))
        return best, "mean rank of " + ", ".join(measurable)
    best = min(range(len(rows)), key=lambda i: (math.isnan(rows[i]["val_total"]), rows[i]["val_total"], -rows[i]["step"]))
    return best, "val_total (no measurable face in any validation output)"


def run_selection(run: Path) -> str:
    """The run's own ``selection`` option (``training_options.json``); runs from before it: metrics."""
    p = run / "training_options.json"
    opts = json.loads(p.read_text()).get("options", {}) if p.is_file() else {}
    return str(opts.get("selection", "metrics"))


def run_select(cfg: Mapping[str, Any], method: str, make_reenactor: Callable[[Path], Any],
               manifest: str | Path | None = None, root: str | Path = ".",
               log: Callable[[str], None] = print) -> dict[str, Any]:
    """Score every checkpoint of ``method``'s run (``make_reenactor(checkpoint)`` builds it) and
    write :func:`selected_path`."""
    import pandas as pd

    from petra.evaluate.analyzer import Analyzer  # deferred: the evaluators' backends

    t0 = time.time()
    rdir = run_dir(cfg, method)
    ckpts = ckpt.list_checkpoints(rdir)
    if not ckpts:
        raise InputError(rdir, "no checkpoints; run `petra train` first")
    summary = rdir / "summary.json"
    check = json.loads(summary.read_text()).get("check") if summary.is_file() else None
    if check:  # train.steps 0: the starting checkpoint is the run; nothing to choose between
        step, path = ckpts[-1]
        out = {"method": method, "checkpoint": str(path), "step": step,
               "criterion": f"check of {Path(check['init']).name} (train.steps 0): its one checkpoint",
               "init_sha256": check["init_sha256"], "size": int(cfg["align"]["size"])}
        write_json(selected_path(cfg, method), out)
        log(f"select {method}: the checked starting checkpoint ({time.time() - t0:.1f} s)")
        return out
    by_metrics = run_selection(rdir) == "metrics"
    best_pt = ckpt.best_path(rdir)
    if not by_metrics and best_pt.is_file():
        obj = ckpt.load_checkpoint(best_pt)  # sha256-checked
        out = {"method": method, "checkpoint": str(best_pt), "step": int(obj["step"]),
               "criterion": "best total validation loss, kept during training (train.selection: val_loss)",
               "val_total": obj.get("extra", {}).get("val_total"), "size": int(cfg["align"]["size"])}
        write_json(selected_path(cfg, method), out)
        log(f"select {method}: best.pt (step {out['step']}, val_total {out['val_total']}) ({time.time() - t0:.1f} s)")
        return out
    manifest = frames_manifest(cfg, manifest)
    df = pd.read_parquet(manifest)
    sel = build(Select, cfg["select"])
    pairs = validation_pairs(df, sel.pairs, sel.seed)
    size = int(cfg["align"]["size"])
    imgs = {p: read_image(Path(root) / p) for t, d in pairs for p in (t["aligned_path"], d["aligned_path"])}
    an = Analyzer(cfg) if by_metrics and sel.metric != "val_loss" else None
    val_loss = {}
    vpath = rdir / "val.jsonl"
    if vpath.is_file():
        for line in vpath.read_text().splitlines():
            r = json.loads(line)
            val_loss[int(r["step"])] = float(r.get("val_total", math.nan))
    rows = []
    for step, path in ckpts:
        row: dict[str, Any] = {"step": step, "checkpoint": str(path), "val_total": val_loss.get(step, math.nan)}
        if an is not None:
            re = make_reenactor(path)
            outs, drvs = [], []
            for t, d in pairs:
                re.set_target(imgs[t["aligned_path"]])
                outs.append(re.drive(imgs[d["aligned_path"]]))
                drvs.append(imgs[d["aligned_path"]])
            row.update(score_outputs(an, outs, drvs))
        rows.append(row)
    best, criterion = choose(rows)
    clean = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]
    out = {"method": method, "checkpoint": rows[best]["checkpoint"], "step": rows[best]["step"],
           "criterion": criterion, "pairs": len(pairs), "checkpoints": clean, "size": size}
    write_json(selected_path(cfg, method), out)
    log(f"select {method}: step {out['step']} of {len(rows)} checkpoints by {criterion} ({time.time() - t0:.1f} s)")
    return out
