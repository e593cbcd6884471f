"""results.csv and results.md: the analogue of thesis Table 4.1, one row per method.

The CSV keeps every number (mean and 95% CI half-width per metric); the Markdown
shows "mean ± ci" with an arrow for the better direction, and a legend that says
which backend produced each column.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from petra.evaluate.metrics import for_table_column, label
from petra.io import write_json, write_text


def metric_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c != "method" and not c.startswith("n_pairs") and not c.endswith("_ci95")]


def _head(col: str) -> str:
    m = for_table_column(col)
    return label(col) + ("" if m is None else " ↑" if m.higher_is_better else " ↓")


def _is_self(col: str) -> bool:
    m = for_table_column(col)
    return m is not None and m.kind == "self"


def _fmt(mean: float, half: float) -> str:
    if not math.isfinite(mean):
        return "—"
    digits = 2 if abs(mean) >= 10 else 3
    return f"{mean:.{digits}f}" if not math.isfinite(half) else f"{mean:.{digits}f} ± {half:.{digits}f}"


def to_markdown(table: pd.DataFrame, title: str = "Results") -> str:
    cols = metric_columns(table)
    cross = [c for c in cols if not _is_self(c)]
    selfc = [c for c in cols if _is_self(c)]
    head = ["method", "cross pairs"] + [_head(c) for c in cross] + ["self pairs"] + [_head(c) for c in selfc]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [f"`{r['method']}`", str(int(r["n_pairs_cross"]))]
        cells += [_fmt(r[c], r.get(f"{c}_ci95", float("nan"))) for c in cross]
        cells += [str(int(r["n_pairs_self"]))] + [_fmt(r[c], r.get(f"{c}_ci95", float("nan"))) for c in selfc]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        ("Mean ± half-width of the 95% t-interval over pairs (each pair's frames are first averaged; "
        "FL-CORR / AU-CORR are per-pair Pearson correlations averaged over ratios / AUs). "
        "Brackets name the evaluator backend that produced the column; `geom` AU columns are a "
        "landmark-geometry substitute, not OpenGraphAU's FAU-CORR. Definitions: docs/evaluation.md. "
        "`copy-target` (output = target) and `copy-driving` (output = driving frame) bracket what each metric can reach."),
        "",
    ]
    return "\n".join(lines)


def _write_csv_md(df: pd.DataFrame, out_dir: Path, stem: str, markdown: str) -> tuple[Path, Path]:
    """``<stem>.csv`` (all digits) and ``<stem>.md``, atomically; returns their paths."""
    csv, md = Path(out_dir) / f"{stem}.csv", Path(out_dir) / f"{stem}.md"
    write_text(csv, df.to_csv(index=False, float_format="%.6g"))
    write_text(md, markdown)
    return csv, md


def write_tables(table: pd.DataFrame, out_dir: Path) -> tuple[Path, Path]:
    """Write results.csv and results.md; return their paths."""
    return _write_csv_md(table, out_dir, "results", to_markdown(table))


def metrics_json(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """method -> {metric: mean, metric_ci95: half-width, n_pairs_*}: finite numbers only (JSON, DVC)."""
    out: dict[str, dict[str, float]] = {}
    for _, r in table.iterrows():
        row = {c: float(r[c]) for c in table.columns
               if c != "method" and isinstance(r[c], (int, float)) and math.isfinite(float(r[c]))}
        out[str(r["method"])] = row
    return out


def write_metrics(table: pd.DataFrame, folder: Path) -> list[Path]:
    """``<folder>/<method>.json`` per method and ``summary.json`` (every method's means): what
    ``dvc metrics show`` and ``dvc exp show`` compare."""
    per = metrics_json(table)
    files = []
    for method, row in per.items():
        write_json(folder / f"{method}.json", row)
        files.append(folder / f"{method}.json")
    summary = {m: {k: v for k, v in row.items() if k in metric_columns(table)} for m, row in per.items()}
    write_json(folder / "summary.json", summary)
    return [*files, folder / "summary.json"]


def paired_markdown(paired: pd.DataFrame) -> str:
    """paired.md: per method, each metric's means, the per-pair difference ± its 95% interval and a verdict."""
    lines = ["# Paired comparison", "",
             "Each method against the reference on the same pairs: difference of per-pair values "
             "(method − reference) ± its 95% t-interval over pairs. `better`/`worse`: beyond the interval.", ""]
    for method, g in paired.groupby("method", sort=False):
        lines += [f"## {method} vs {g['reference'].iloc[0]}", "",
                  "| kind | metric | n | method | reference | difference | verdict |", "|---|---|---|---|---|---|---|"]
        for _, r in g.iterrows():
            verdict = "better" if r["better_beyond_ci"] else "worse" if r["worse_beyond_ci"] else "within CI"
            lines.append(f"| {r['kind']} | {label(r['metric'])} | {int(r['n_pairs'])} | {r['method_mean']:.4g} | "
                         f"{r['reference_mean']:.4g} | {r['diff']:+.4g} ± {r['diff_ci95']:.2g} | {verdict} |")
        lines.append("")
    return "\n".join(lines)


def write_paired(paired: pd.DataFrame, out_dir: Path) -> tuple[Path, Path]:
    """paired.csv and paired.md."""
    return _write_csv_md(paired, out_dir, "paired", paired_markdown(paired))
