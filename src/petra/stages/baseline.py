"""`petra baseline`: per-video neutral codes for the latent-arithmetic baseline (pSp / e4e)."""
from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoder", required=True, choices=["psp", "e4e"], help="which ReStyle inversion")
    parser.add_argument("--manifest", default=None, help="frames.parquet (default: <paths.data>/manifests/)")


def main(args: argparse.Namespace) -> int:
    from .. import config
    from petra.generators.stylegan2.baseline.run import run_baseline

    cfg = config.load(args.params, args.profile)
    run_baseline(cfg, args.encoder, args.manifest)
    return 0
