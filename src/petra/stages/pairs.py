"""`petra pairs`: the fixed evaluation pair list (<data>/eval/pairs.parquet)."""
from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from petra import config, paths
from petra.errors import InputError
from petra.io import write_parquet
from petra.params import Evaluate


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", type=Path, default=None, help="frames.parquet (default: <data>/manifests/)")
    parser.add_argument("--out", type=Path, default=None, help="pairs.parquet (default: <data>/eval/)")


def run_pairs(cfg: Mapping[str, Any], manifest: Path, out: Path) -> pd.DataFrame:  # noqa: F821
    """Read the manifest, draw the pairs from ``evaluate.pairs_seed`` and write them."""
    import pandas as pd

    from petra.evaluate.pairs import make_pairs

    if not Path(manifest).is_file():
        raise InputError(manifest, "manifest not found (run the data stages first)")
    ev = config.build(Evaluate, cfg["evaluate"])
    df = pd.read_parquet(manifest, columns=["identity", "video", "time_s", "aligned_path", "split"])
    pairs = make_pairs(df, ev.cross_pairs, ev.self_pairs, ev.frames_per_video, ev.pairs_seed, ev.splits)
    if pairs.empty:
        raise InputError(manifest, f"no video of split(s) {list(ev.splits)} has enough frames for an evaluation pair "
                                   f"(cross: >= 2 identities, self: >= 4 frames per video)")
    write_parquet(out, pairs)
    n = pairs.groupby("kind")["pair_id"].nunique().to_dict()
    print(f"pairs: {n.get('cross', 0)} cross + {n.get('self', 0)} self pairs, {len(pairs)} driven frames, "
          f"{pairs['driving_identity'].nunique()} test identities -> {out}")
    return pairs


def main(args: argparse.Namespace) -> int:
    cfg = config.load(args.params, args.profile)
    run_pairs(cfg, args.manifest or paths.manifest_file(cfg),
              args.out or paths.pairs_path(cfg))
    return 0
