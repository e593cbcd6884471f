"""Every artifact path of a profile, built in one place: the stages, the generators and the
Snakemake rules (common.smk imports this module) agree on where things are.

All paths are below ``paths.data`` (pipeline artifacts), ``paths.models`` (weights, training
runs, selections) and ``paths.reports`` (tables and figures) of the resolved config; a path
is derived from what it holds (identity, video, time, method, backend), never by rewriting
another path's string.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import InputError

STAGE_DIRS = {"frames": "frames", "align": "aligned", "filter": "filter"}


def data_path(cfg: Mapping[str, Any], *parts: str) -> Path:
    """A path under the profile's data folder (``paths.data``)."""
    return Path(cfg["paths"]["data"]).joinpath(*parts)


def reports_path(cfg: Mapping[str, Any], *parts: str) -> Path:
    """A path under the profile's reports folder (``paths.reports``)."""
    return Path(cfg["paths"]["reports"]).joinpath(*parts)


def models_path(cfg: Mapping[str, Any], *parts: str) -> Path:
    """A path under the profile's models folder (``paths.models``)."""
    return Path(cfg["paths"]["models"]).joinpath(*parts)


# --- data stages ---------------------------------------------------------------------
def safe_name(name: str) -> str:
    """A file-name-safe form of a clip stem (keeps spaces and non-ASCII; drops separators)."""
    name = re.sub(r"[/\\\x00]", "_", name).strip()
    return "_" if name in ("", ".", "..") else name


def frame_name(time_s: float) -> str:
    """File stem of the frame at ``time_s``: milliseconds, zero-padded (sorts by time)."""
    return f"t{int(round(time_s * 1000)):07d}"


def listing(cfg: Mapping[str, Any]) -> Path:
    """The ingest checkpoint: one row per usable clip."""
    return data_path(cfg, "raw", "videos.parquet")


def ingest_rejects(cfg: Mapping[str, Any]) -> Path:
    return data_path(cfg, "raw", "rejects.parquet")


def check_identity(identity: str, where: str | Path = "identity") -> str:
    """An identity label is one folder name: not empty, no separators, not ``.``/``..``, no NUL."""
    if (not identity or identity in (".", "..")
            or any(c in identity for c in "/\\\x00") or os.path.isabs(identity)):
        raise InputError(where, f"bad identity {identity!r} (it must be one folder name: no '/', '\\', '..')")
    return identity


def stage_dir(cfg: Mapping[str, Any], stage: str, identity: str) -> Path:
    return data_path(cfg, STAGE_DIRS[stage], check_identity(identity))


def clip_dir(cfg: Mapping[str, Any], stage: str, identity: str, video: str) -> Path:
    """``<data>/<stage>/<identity>/<clip>``: ``video`` ("<identity>/<clip...>") below the identity,
    each part made file-name safe (VoxCeleb2's ``<youtube id>/<utterance>`` keeps both levels)."""
    parts = str(video).split("/")
    if len(parts) > 1 and parts[0] == identity:
        parts = parts[1:]
    return stage_dir(cfg, stage, identity).joinpath(*[safe_name(p) for p in parts])


def frame_file(cfg: Mapping[str, Any], stage: str, identity: str, video: str, time_s: float,
               suffix: str = ".png") -> Path:
    """The file of the frame at ``time_s`` of a clip in a stage's folder (frames, aligned)."""
    return clip_dir(cfg, stage, identity, video) / f"{frame_name(time_s)}{suffix}"


def stage_table(cfg: Mapping[str, Any], stage: str, shard: str) -> Path:
    """The table a stage writes for one shard, e.g. ``<data>/aligned/_shards/s003.parquet``."""
    return data_path(cfg, STAGE_DIRS[stage], "_shards", f"{shard}.parquet")


def stage_rejects(cfg: Mapping[str, Any], stage: str, shard: str) -> Path:
    return data_path(cfg, STAGE_DIRS[stage], "_shards", f"{shard}.rejects.parquet")


def manifest_dir(cfg: Mapping[str, Any]) -> Path:
    return data_path(cfg, "manifests")


def manifest_file(cfg: Mapping[str, Any], name: str = "frames") -> Path:
    """``<data>/manifests/<name>.parquet`` (frames, rejects)."""
    return manifest_dir(cfg) / f"{name}.parquet"


def frames_manifest(cfg: Mapping[str, Any], manifest: str | Path | None = None) -> Path:
    """``manifest``, or the manifest stage's ``frames.parquet``; checked here so every stage
    that reads the frame list fails with the same one-line error before the data stages ran."""
    path = Path(manifest or manifest_file(cfg))
    if not path.is_file():
        raise InputError(path, "manifest not found; run the data stages first")
    return path


def downloads_dir(cfg: Mapping[str, Any]) -> Path:
    """Where URL-list ingest downloads clips (nothing is written outside it)."""
    return data_path(cfg, "raw", "downloads")


# --- latents, baseline ---------------------------------------------------------------
def latents_dir(cfg: Mapping[str, Any], backend: str) -> Path:
    """``<data>/latents/<backend>/``: shards, index.parquet, rejects.parquet."""
    return data_path(cfg, "latents", backend)


def refine_data_dir(cfg: Mapping[str, Any], source: str) -> Path:
    """The refinement's pair set (frames + hand-made renders) built from ``source`` (manifest | clips)."""
    return data_path(cfg, "refine", source)


def baseline_dir(cfg: Mapping[str, Any], encoder: str) -> Path:
    """``<data>/baseline/<encoder>/``: neutrals.pt and frames.parquet of the latent-arithmetic baseline."""
    return data_path(cfg, "baseline", encoder)


# --- training ------------------------------------------------------------------------
def run_dir(cfg: Mapping[str, Any], method: str) -> Path:
    """``<models>/train/<method>``: checkpoints, options, metrics and summary of one run."""
    return models_path(cfg, "train", method)


def selected_path(cfg: Mapping[str, Any], method: str) -> Path:
    """``<models>/selected/<method>.json``: the chosen checkpoint (beside, not inside, the run)."""
    return models_path(cfg, "selected", f"{method}.json")


def smoke_weights_dir(cfg: Mapping[str, Any]) -> Path:
    return models_path(cfg, "weights", "smoke")


def synth_model(cfg: Mapping[str, Any]) -> Path:
    """The random-identity model (``synth.model`` overrides it)."""
    p = (cfg.get("synth") or {}).get("model")
    return Path(p) if p else models_path(cfg, "synth", "identity_model.npz")


# --- evaluation and report -----------------------------------------------------------
def pairs_path(cfg: Mapping[str, Any]) -> Path:
    return data_path(cfg, "eval", "pairs.parquet")


def pair_features(cfg: Mapping[str, Any]) -> Path:
    """The pair frames' evaluator features, measured once for every method's job."""
    return data_path(cfg, "eval", "pair_features.parquet")


def eval_frames(cfg: Mapping[str, Any], method: str) -> Path:
    """Per-frame rows of one method (``<method>.rejects.parquet`` beside it)."""
    return data_path(cfg, "eval", f"{method}.parquet")


def eval_rejects(cfg: Mapping[str, Any], method: str) -> Path:
    return data_path(cfg, "eval", f"{method}.rejects.parquet")


def eval_outputs(cfg: Mapping[str, Any], method: str) -> Path:
    """The output crops of one method's evaluation."""
    return data_path(cfg, "eval", method)


def figure(cfg: Mapping[str, Any], name: str) -> Path:
    return reports_path(cfg, "figures", f"{name}.png")


def results(cfg: Mapping[str, Any], suffix: str = "csv") -> Path:
    """``<reports>/results.<csv|md>``: the results table."""
    return reports_path(cfg, f"results.{suffix}")


def metrics_file(cfg: Mapping[str, Any], name: str = "summary") -> Path:
    """A metrics JSON DVC reads (``dvc metrics show``): one per method, plus ``summary``."""
    return reports_path(cfg, "metrics", f"{name}.json")


def curves_dir(cfg: Mapping[str, Any]) -> Path:
    """Training curves as CSV (``<method>.train.csv``, ``<method>.val.csv``) for ``dvc plots``."""
    return reports_path(cfg, "curves")


def metrics_summary(cfg: Mapping[str, Any]) -> Path:
    return metrics_file(cfg, "summary")


def log_file(cfg: Mapping[str, Any], *parts: str, under: str = "data") -> Path:
    """A stage's log: ``<data or models>/logs/<parts>.log``."""
    base = data_path(cfg) if under == "data" else models_path(cfg)
    return base.joinpath("logs", *parts[:-1], f"{parts[-1]}.log")
