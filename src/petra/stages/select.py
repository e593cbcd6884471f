"""`petra select --method NAME`: choose a trained method's checkpoint (best total validation loss, or validation
pose/expression metrics; ``train.selection``)."""
from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from petra.errors import PetraError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help="a trained method: sg2-ours, mesh-ours-cos, …")
    parser.add_argument("--manifest", default=None, help="frames.parquet (default: <paths.data>/manifests/)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not register the checkpoint in MLflow")


def main(args: argparse.Namespace) -> int:
    from petra import config, generators
    from petra.train.select import run_select

    cfg = config.load(args.params, args.profile)
    method = generators.parse(args.method, cfg)
    if not method.trained:
        raise PetraError(f"{method.name} is a {method.kind} method: no checkpoints to select")
    out = run_select(cfg, method.name, lambda ckpt: generators.create(method, cfg, checkpoint=ckpt), args.manifest)
    if not args.no_mlflow:
        register(cfg, method.name, out)
    return 0


def register(cfg: Mapping[str, Any], method: str, selection: dict[str, Any]) -> int | None:
    """Register the selected checkpoint as a version of MLflow model ``method`` on its training run,
    with the selection metrics (a training run logged without MLflow: nothing to register)."""
    import json
    import numbers

    from petra import paths, tracking

    summary = paths.run_dir(cfg, method) / "summary.json"
    run_id = json.loads(summary.read_text()).get("mlflow_run_id") if summary.is_file() else None
    if not run_id:
        print(f"select {method}: no MLflow training run in {summary}; not registered")
        return None
    chosen = next((c for c in selection.get("checkpoints", []) if c["step"] == selection["step"]), selection)
    metrics = {f"select_{k}": v for k, v in chosen.items()
               if k not in ("step", "checkpoint", "size") and isinstance(v, numbers.Real)}
    metrics["step"] = selection["step"]
    version = tracking.register_checkpoint(method, run_id, selection["checkpoint"], metrics,
                                           description=selection.get("criterion", ""))
    print(f"select {method}: registered models:/{method}/{version} (step {selection['step']})")
    return version
