"""`petra report`: results.{csv,md}, figures and MLflow runs from the per-method evaluations."""
from __future__ import annotations

import argparse

from petra.generators import evaluated_methods
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from petra import config, paths
from petra.errors import InputError
from petra.io import write_parquet
from petra.params import EvaluateBackends, Report


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--evals", type=Path, nargs="*", default=None,
                        help="per-method Parquet files (default: <data>/eval/<method>.parquet for evaluate.methods)")
    parser.add_argument("--pairs", type=Path, default=None, help="pairs.parquet (default: <data>/eval/)")
    parser.add_argument("--manifest", type=Path, default=None, help="frames.parquet (default: <data>/manifests/)")
    parser.add_argument("--out-dir", type=Path, default=None, help="report folder (default: paths.reports)")
    parser.add_argument("--no-mlflow", action="store_true", help="skip MLflow logging")
    parser.add_argument("--validate", action="store_true",
                        help="only measure the offline evaluators on the sample clips (validation.json + figures)")


def run_report(cfg: Mapping[str, Any], evals: Sequence[Path], pairs_path: Path, manifest_path: Path,
               out_dir: Path, root: Path = Path("."), mlflow: bool = True) -> pd.DataFrame:  # noqa: F821
    """Aggregate, tabulate, draw and log; returns the results table."""
    import pandas as pd

    from petra.evaluate.summary import paired_table, per_pair, results_table
    from petra.report import figures
    from petra.report import table as tbl

    for p in [*evals, pairs_path, manifest_path]:
        if not Path(p).is_file():
            raise InputError(p, "not found (run the earlier stages first)")
    frames = {}
    for p in evals:
        df = pd.read_parquet(p)
        frames[str(df["method"].iloc[0])] = df
    listed = evaluated_methods(cfg)
    order = [m for m in listed if m in frames] + sorted(set(frames) - set(listed))
    frames = {m: frames[m] for m in order}
    pp = per_pair(pd.concat(frames.values(), ignore_index=True))
    table = results_table(pp, order)
    out_dir = Path(out_dir)
    write_parquet(out_dir / "per_pair.parquet", pp)
    csv, md = tbl.write_tables(table, out_dir)
    tbl.write_metrics(table, out_dir / "metrics")  # for `dvc metrics show` / `dvc exp show`
    ref = cfg["report"].get("paired_reference")
    if ref and ref in frames:  # every method against the reference on the same pairs (reports/paired.md)
        tbl.write_paired(paired_table(pp, ref), out_dir)

    rep, b = config.build(Report, cfg["report"]), config.build(EvaluateBackends, cfg["evaluate"]["backends"])
    pairs = pd.read_parquet(pairs_path)
    manifest = pd.read_parquet(manifest_path)
    fig = out_dir / "figures"
    figs = [
        figures.cross_grid(pairs, frames, fig / "cross_reenactment.png", root, rep.figure_pairs, rep.figure_frames),
        figures.self_strip(pairs, frames, fig / "self_reenactment.png", root, rep.figure_pairs, rep.figure_frames),
        figures.ratio_retrieval(manifest[manifest["split"] == "test"], fig / "landmark_ratio_retrieval.png", root,
                                seed=cfg["seed"]),
    ]
    # the curves follow one driving video: the configured pair, else the first cross pair
    ids = sorted(pairs.loc[pairs["kind"] == "cross", "pair_id"].unique()) or sorted(pairs["pair_id"].unique())
    figs.append(figures.metric_curves(frames, rep.curve_pair or ids[0], fig / "metric_curves.png",
                                      b.pose, b.landmarks))
    runs = []
    if mlflow:
        from petra.report.mlflow_log import log_runs

        runs = log_runs(cfg, table, [csv, md, *figs])
    print(f"report: {len(table)} methods, {int(table['n_pairs_cross'].max())} cross + "
          f"{int(table['n_pairs_self'].max())} self pairs -> {md}, {len(figs)} figures, {len(runs)} MLflow runs")
    return table


def main(args: argparse.Namespace) -> int:
    cfg = config.load(args.params, args.profile)
    if args.validate:
        from petra.evaluate.validate import run_validation

        res = run_validation(cfg, Path(cfg["dataset"]["mirror"]), args.out_dir or paths.reports_path(cfg))
        print("report --validate: " + ", ".join(f"{k}={v:.4g}" for k, v in res.items() if isinstance(v, float)))
        return 0
    evals = args.evals or [paths.eval_frames(cfg, m) for m in evaluated_methods(cfg)]
    run_report(cfg, evals, args.pairs or paths.pairs_path(cfg),
               args.manifest or paths.manifest_file(cfg),
               args.out_dir or paths.reports_path(cfg), mlflow=not args.no_mlflow)
    return 0
