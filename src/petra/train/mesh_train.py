"""`petra train-mesh`: train one mesh variant (mesh-ours, mesh-ours-cos, mesh-ours-gen).

The shared loop (:mod:`petra.train.loop`) and MLflow logging
(:func:`petra.train.run.log_training_run`) do the work; this module only

* sizes the run for the mesh generator: ``train_mesh.train`` (steps, lr, batch,
  resolution …) is merged over the shared ``train`` keys, because the shared
  defaults are the thesis's StyleGAN2 schedule (100k steps at lr 1e-5), which the
  small mesh networks neither need nor could afford on a CPU;
* drops manifest frames whose mesh fit failed (they are in the latents rejects);
* records the merged ``train_mesh`` options in the run's params, so a checkpoint
  rebuilds its own architecture.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from ..config import deep_merge
from ..data.layout import frames_manifest
from ..errors import InputError


def mesh_variant_params(cfg: Mapping[str, Any], variant: str) -> dict[str, Any]:
    """Shared ``train`` + ``train.variants[v]`` + ``train_mesh.train`` + the mesh options."""
    from .recipe import variant_params

    tm = dict(cfg.get("train_mesh") or {})
    params = deep_merge(variant_params(cfg, variant), tm.get("train") or {})
    variants = tm.get("variants") or {}
    if variant not in variants:
        raise InputError("params.yaml", f"train_mesh.variants has no {variant!r} (has {sorted(variants)})")
    entry = dict(variants[variant] or {})
    params = deep_merge(params, entry.pop("train", None) or {})  # a variant may resize its own run
    mesh = deep_merge({k: v for k, v in tm.items() if k not in ("train", "variants")}, entry)
    params["train_mesh"] = mesh
    params["variant"] = variant
    return params


def run_mesh_train(
    cfg: Mapping[str, Any],
    variant: str,
    manifest: str | Path | None = None,
    out_dir: str | Path | None = None,
    fits: str | Path | None = None,
    root: str | Path = ".",
    track: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train (or resume) one mesh variant in ``<models>/train/mesh-<variant>``; returns the summary."""
    import pandas as pd

    from ..latents.mesh import MeshFits, default_fits_path
    from ..models.lpips import load_lpips
    from .loop import setup, train_loop
    from .mesh_recipe import MeshOptions, MeshRecipe, checkpoint_dir, max_shift_px
    from .run import log_training_run

    manifest = frames_manifest(cfg, manifest)
    params = mesh_variant_params(cfg, variant)
    opts = MeshOptions.from_params({**params["train_mesh"], "cos_a": params.get("cosface", {}).get("a", 5.0),
                                    "cos_b": params.get("cosface", {}).get("b", 0.2)})
    table = MeshFits.load(fits or opts.fits or default_fits_path(cfg))
    df = pd.read_parquet(manifest)
    keep = df["aligned_path"].astype(str).map(table.__contains__)
    if (~keep).any():
        log(f"train-mesh: {int((~keep).sum())} manifest frames have no mesh fit; skipped")
    df = df[keep].reset_index(drop=True)
    method = f"mesh-{variant}"
    out = Path(out_dir or checkpoint_dir(cfg, method))
    lpips_fn = load_lpips(params.get("lpips_net", "alex"), cfg=cfg) if any(opts.w(t) for t in ("lpips", "lpips_crop")) else None
    recipe = MeshRecipe(opts, table, cfg["align"]["size"], lpips_fn, "cpu", int(params.get("seed", 0)), max_shift_px(cfg))
    state = setup(cfg, params, out, df, recipe=recipe, root=root, log=log)
    t0 = time.time()
    summary = train_loop(state)
    summary["wall_seconds"] = round(time.time() - t0, 1)
    if track:
        summary["mlflow_run_id"] = log_training_run(cfg, method, params, out)
        _log_checkpoint(summary["mlflow_run_id"], out)
    from ..io import write_json

    write_json(out / "summary.json", summary)  # + wall time and the MLflow run id
    log(f"train-mesh {method}: {summary['steps']} steps ({summary['steps_this_run']} now, {summary['wall_seconds']} s), "
        f"last total {summary['last'].get('total', float('nan')):.4f}, {len(summary['checkpoints'])} checkpoints in {out}")
    return summary


def _log_checkpoint(run_id: str, run_dir: Path) -> None:
    """Store the latest checkpoint (and its sha256) with the variant's MLflow run."""
    from mlflow.tracking import MlflowClient

    from .. import tracking
    from .checkpoint import latest_checkpoint

    path = latest_checkpoint(run_dir)
    if path is None:
        return
    client = MlflowClient(tracking_uri=tracking.tracking_uri())
    for f in (path, path.with_name(path.name + ".sha256")):
        client.log_artifact(run_id, str(f), "checkpoints")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", required=True, help="a key of train_mesh.variants (ours, ours-cos, ours-gen)")
    parser.add_argument("--manifest", default=None, help="frames.parquet (default: <paths.data>/manifests/)")
    parser.add_argument("--fits", default=None, help="mesh fits (default: the latents stage's mesh output)")
    parser.add_argument("--out", default=None, help="run folder (default: <paths.models>/train/mesh-<variant>)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the run to MLflow")


def main(args: argparse.Namespace) -> int:
    import torch

    from .. import config
    from .loop import log_to

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    cfg = config.load(args.params, args.profile)
    run_mesh_train(cfg, args.variant, args.manifest, args.out, args.fits, track=not args.no_mlflow, log=log_to(sys.stderr))
    return 0
