"""`petra smoke-weights`: tiny deterministic random-weight StyleGAN2-path checkpoints (CI)."""
from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="rebuild even when present and verified")


def main(args: argparse.Namespace) -> int:
    from .. import config
    from petra.generators.stylegan2.smoke_weights import build_smoke_weights

    cfg = config.load(args.params, args.profile)
    if not cfg["stylegan2"].get("smoke_weights"):
        print(f"smoke-weights: profile {cfg['profile']!r} uses the official weights (stylegan2.smoke_weights: false); nothing to do")
        return 0
    build_smoke_weights(cfg, force=args.force)
    return 0
