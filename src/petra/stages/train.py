"""`petra train --method NAME`: train one method (E_m and M; G too for a "gen" variant) of any generator."""
from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from petra.errors import PetraError
from petra.paths import frames_manifest


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help="a trained method: sg2-ours, mesh-ours-cos, … (train variants in params)")
    parser.add_argument("--manifest", default=None, help="frames.parquet (default: <paths.data>/manifests/)")
    parser.add_argument("--out", default=None, help="run folder (default: <paths.models>/train/<method>)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the run to MLflow")


def train_method(cfg: Mapping[str, Any], name: str, manifest: str | Path | None = None, out: str | Path | None = None,
                 root: str | Path = ".", track: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train (or resume) the trained method ``name`` of any generator; returns the run summary."""
    import pandas as pd

    from petra import generators
    from petra.train.run import run_train

    method = generators.parse(name, cfg)
    if not method.trained:
        raise PetraError(f"{method.name} is a {method.kind} method: nothing to train")
    df = pd.read_parquet(frames_manifest(cfg, manifest))
    params, recipe, df = generators.package(method).prepare_training(cfg, method, df, log)
    rule_params = generators.package(method).train_rule(cfg, method)["params"]  # what the method reads
    return run_train(cfg, method.name, params, recipe, df, out, root=root, track=track, log=log,
                     mlflow_params=rule_params)


def main(args: argparse.Namespace) -> int:
    import sys

    from petra import config
    from petra.train.loop import log_to

    cfg = config.load(args.params, args.profile)
    train_method(cfg, args.method, args.manifest, args.out, track=not args.no_mlflow, log=log_to(sys.stderr))
    return 0
