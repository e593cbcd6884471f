"""`petra latents`: identity codes (ReStyle W+) / mesh fits for every manifest frame."""
from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", required=True, help="psp | e4e | mesh (see latents.backends)")
    parser.add_argument("--manifest", default=None, help="frames.parquet (default: <paths.data>/manifests/)")
    parser.add_argument("--out", default=None, help="output folder (default: <paths.data>/latents/<backend>)")


def main(args: argparse.Namespace) -> int:
    from .. import config
    from ..latents.run import run_latents

    cfg = config.load(args.params, args.profile)
    run_latents(cfg, args.backend, args.manifest, args.out)
    return 0
