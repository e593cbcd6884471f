"""`petra pair-features`: the evaluators' features of every pair's target and driving frames,
measured once for all method jobs (<data>/eval/pair_features.parquet; petra.evaluate.features)."""
from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from petra import config, paths
from petra.errors import InputError
from petra.io import write_parquet


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", type=Path, default=None, help="pairs.parquet (default: <data>/eval/)")
    parser.add_argument("--out", type=Path, default=None, help="features table (default: <data>/eval/pair_features.parquet)")


def run_pair_features(cfg: Mapping[str, Any], pairs_path: Path, out: Path, root: Path = Path(".")) -> int:
    """Measure and write the table; returns its number of frames."""
    import pandas as pd

    from petra.evaluate.analyzer import Analyzer
    from petra.evaluate.features import measure_pairs, to_table
    from petra.evaluate.runner import read_crop

    if not Path(pairs_path).is_file():
        raise InputError(pairs_path, "pair list not found (run `petra pairs` first)")
    pairs = pd.read_parquet(pairs_path)
    an = Analyzer(cfg)
    size = int(cfg["align"]["size"])
    keys = measure_pairs(an, pairs, lambda p: read_crop(p, root, size))
    write_parquet(out, to_table(an, keys))
    print(f"pair-features: {len(keys)} target and driving frames measured -> {out}")
    return len(keys)


def main(args: argparse.Namespace) -> int:
    cfg = config.load(args.params, args.profile)
    run_pair_features(cfg, args.pairs or paths.pairs_path(cfg), args.out or paths.pair_features(cfg))
    return 0
