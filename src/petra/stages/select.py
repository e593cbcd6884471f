"""`petra select`: choose a variant's checkpoint by validation pose/expression metrics."""
from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", required=True, help="a key of train.variants")
    parser.add_argument("--manifest", default=None, help="frames.parquet (default: <paths.data>/manifests/)")


def main(args: argparse.Namespace) -> int:
    from .. import config
    from ..train.select import run_select

    cfg = config.load(args.params, args.profile)
    run_select(cfg, args.variant, args.manifest)
    return 0
