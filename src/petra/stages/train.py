"""`petra train`: train E_m and M (and G for the gen variant) for one variant."""
from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", required=True, help="a key of train.variants (ours, ours-cos, ours-gen)")
    parser.add_argument("--manifest", default=None, help="frames.parquet (default: <paths.data>/manifests/)")
    parser.add_argument("--out", default=None, help="run folder (default: <paths.models>/train/<method>)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the run to MLflow")
    parser.add_argument("--generator", default=None, help="train this generator's recipe (default: generator.name)")


def main(args: argparse.Namespace) -> int:
    import sys

    from .. import config
    from ..train.loop import log_to
    from ..train.run import run_train

    cfg = config.load(args.params, args.profile)
    if args.generator:
        cfg = {**cfg, "generator": {**cfg["generator"], "name": args.generator}}
    run_train(cfg, args.variant, args.manifest, args.out, track=not args.no_mlflow, log=log_to(sys.stderr))
    return 0
