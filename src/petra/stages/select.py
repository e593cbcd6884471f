"""`petra select --method NAME`: choose a trained method's checkpoint (best total validation loss, or validation
pose/expression metrics; ``train.selection``)."""
from __future__ import annotations

import argparse
from petra.errors import PetraError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help="a trained method: sg2-ours, mesh-ours-cos, …")
    parser.add_argument("--manifest", default=None, help="frames.parquet (default: <paths.data>/manifests/)")


def main(args: argparse.Namespace) -> int:
    from petra import config, generators
    from petra.train.select import run_select

    cfg = config.load(args.params, args.profile)
    method = generators.parse(args.method, cfg)
    if not method.trained:
        raise PetraError(f"{method.name} is a {method.kind} method: no checkpoints to select")
    run_select(cfg, method.name, lambda ckpt: generators.create(method, cfg, checkpoint=ckpt), args.manifest)
    return 0
