"""`petra refine-data`: the mesh refinement's pair set (frames + hand-made renders), see
:mod:`petra.generators.mesh.refine.data`."""
from __future__ import annotations

import argparse

from petra.paths import frames_manifest, refine_data_dir


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", default=None, help="frames.parquet (default: <paths.data>/manifests/)")
    parser.add_argument("--source", choices=["manifest", "clips"], default=None,
                        help="override train_mesh.refine.data.source")


def main(args: argparse.Namespace) -> int:
    import dataclasses

    import pandas as pd

    from petra import config
    from petra.generators.mesh.refine.data import DataOptions, build

    cfg = config.load(args.params, args.profile)
    opts = config.build(DataOptions, (cfg["train_mesh"].get("refine") or {}).get("data"))
    if args.source:
        opts = dataclasses.replace(opts, source=args.source)
    build(cfg, pd.read_parquet(frames_manifest(cfg, args.manifest)), refine_data_dir(cfg, opts.source), opts)
    return 0
