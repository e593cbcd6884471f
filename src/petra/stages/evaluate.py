"""`petra evaluate --method NAME`: per-frame metrics of one method (<data>/eval/NAME.parquet)."""
from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from petra import config, paths
from petra.errors import InputError
from petra.io import rejects_frame, write_parquet


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help="a method name (petra.generators: copy-target, mesh-relative, sg2-ours, …)")
    parser.add_argument("--pairs", type=Path, default=None, help="pairs.parquet (default: <data>/eval/)")
    parser.add_argument("--out", type=Path, default=None, help="per-frame Parquet (default: <data>/eval/NAME.parquet)")
    parser.add_argument("--outputs", type=Path, default=None, help="folder for output crops (default: <data>/eval/NAME/)")
    parser.add_argument("--features", type=Path, default=None,
                        help="the pair frames' evaluator features (petra pair-features), measured once for all methods")


def run_evaluate(cfg: Mapping[str, Any], method: str, pairs_path: Path, out: Path, outputs_dir: Path | None,
                 root: Path = Path("."), features: Path | None = None) -> pd.DataFrame:  # noqa: F821
    """Drive every pair with ``method`` and write per-frame rows plus a rejects table beside them
    (``features``: the pair frames' features from ``petra pair-features``; the rows are the same)."""
    import pandas as pd

    from petra import generators
    from petra.evaluate.analyzer import Analyzer
    from petra.evaluate.features import prime
    from petra.evaluate.runner import run_method

    generators.parse(method, cfg)  # one line naming an unknown method, before any work
    if not Path(pairs_path).is_file():
        raise InputError(pairs_path, "pair list not found (run `petra pairs` first)")
    pairs = pd.read_parquet(pairs_path)
    an = Analyzer(cfg)
    if features is not None:
        if not Path(features).is_file():
            raise InputError(features, "pair features not found (run `petra pair-features` first)")
        prime(an, features)
    frames, rejects, drive_s = run_method(cfg, method, generators.create(method, cfg), pairs, outputs_dir, root=root,
                                          analyzer=an)
    if frames.empty:
        raise InputError(pairs_path, f"{method}: no pair could be evaluated ({len(rejects)} rejected)")
    frames["evaluate_params"] = json.dumps(dict(cfg["evaluate"]), sort_keys=True)
    write_parquet(out, frames)
    write_parquet(Path(out).with_suffix(".rejects.parquet"), rejects_frame(rejects))
    found = frames["face_found_out"].mean()
    print(f"evaluate {method}: {frames['pair_id'].nunique()} pairs, {len(frames)} frames, "
          f"face found in {found:.0%} of outputs, {len(rejects)} rejects, "
          f"{drive_s * 1000:.0f} ms/frame to drive -> {out}")
    return frames


def main(args: argparse.Namespace) -> int:
    cfg = config.load(args.params, args.profile)
    out = args.out or paths.eval_frames(cfg, args.method)
    outputs = args.outputs or paths.eval_outputs(cfg, args.method)
    run_evaluate(cfg, args.method, args.pairs or paths.pairs_path(cfg), out, outputs, features=args.features)
    return 0
