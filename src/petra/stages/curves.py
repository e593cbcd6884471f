"""`petra curves --method NAME`: the training-curve figure of a trained method (for the report and DVC plots)."""
from __future__ import annotations

import argparse
from pathlib import Path

from petra.errors import PetraError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help="a trained method: mesh-ours, sg2-ours-cos, …")
    parser.add_argument("--out", type=Path, default=None,
                        help="PNG to write (default: <paths.reports>/figures/train_curves_<method>.png)")
    parser.add_argument("--tables", type=Path, default=None,
                        help="folder for <method>.train.csv / .val.csv (default: <paths.reports>/curves)")


def main(args: argparse.Namespace) -> int:
    from petra import config, generators, paths
    from petra.report.curves import training_curves, write_tables

    cfg = config.load(args.params, args.profile)
    method = generators.parse(args.method, cfg)
    if not method.trained:
        raise PetraError(f"{method.name} is a {method.kind} method: it has no training curves")
    out = args.out or paths.figure(cfg, f"train_curves_{method.name}")
    n = training_curves(paths.run_dir(cfg, method.name), out, title=f"{method.name} ({cfg['profile']})")
    write_tables(paths.run_dir(cfg, method.name), args.tables or paths.curves_dir(cfg), method.name)
    print(f"curves {method.name}: {n['train']} train + {n['val']} validation points -> {out}")
    return 0
