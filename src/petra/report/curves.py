"""Training curves of one run folder (metrics.jsonl per tick, val.jsonl per validation) as one PNG.

The Snakemake report and DVC plots show these per trained method; reading the run
folder (not MLflow) keeps the figure a pure function of the rule's input.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from petra.errors import InputError
from petra.io import write_text
from petra.plotting import pyplot, save_figure

SKIP = {"step", "sec_per_step"}  # bookkeeping, not losses


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file ([] when absent: a run may not have validated yet)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def series(rows: list[dict[str, Any]]) -> dict[str, tuple[list[int], list[float]]]:
    """key -> (steps, values) for every numeric key except the bookkeeping ones."""
    out: dict[str, tuple[list[int], list[float]]] = {}
    for r in rows:
        for k, v in r.items():
            if k in SKIP or not isinstance(v, (int, float)) or isinstance(v, bool):
                continue
            steps, values = out.setdefault(k, ([], []))
            steps.append(int(r["step"]))
            values.append(float(v))
    return out


def run_logs(run_dir: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
    """(train rows, validation rows, note) of a run folder. A check (train.steps 0) logged nothing
    itself: its rows are those of the checked file's own training (``init_curves``) when shipped
    beside it, and the note says so."""
    run_dir = Path(run_dir)
    train, val = read_jsonl(run_dir / "metrics.jsonl"), read_jsonl(run_dir / "val.jsonl")
    summary = run_dir / "summary.json"
    check = json.loads(summary.read_text()).get("check") if summary.is_file() else None
    if not check or train or val:
        return train, val, None
    name = Path(check["init"]).name
    if not check.get("init_curves"):
        return [], [], f"a check of {name} (sha256 {check['init_sha256'][:16]}…): train.steps 0, nothing trained here"
    made = json.loads(Path(check["init_curves"]).read_text(encoding="utf-8"))
    run = made.get("provenance", {}).get("mlflow_run_id")
    return made.get("train", []), made.get("val", []), \
        f"a check of {name}: the curves of its own training" + (f" (MLflow run {run[:12]})" if run else "")


def write_tables(run_dir: str | Path, folder: str | Path, name: str) -> list[Path]:
    """``<name>.train.csv`` and ``<name>.val.csv`` (step + one column per loss): what ``dvc plots`` draws."""
    import pandas as pd

    folder = Path(folder)
    files = []
    for logged, split in zip(run_logs(run_dir)[:2], ("train", "val")):
        rows = [{k: v for k, v in r.items() if k not in SKIP or k == "step"} for r in logged]
        df = pd.DataFrame(rows, columns=["step"] if not rows else None)
        path = folder / f"{name}.{split}.csv"
        write_text(path, df.to_csv(index=False))
        files.append(path)
    return files


def training_curves(run_dir: str | Path, out: str | Path, title: str = "") -> dict[str, int]:
    """Draw train (left) and validation (right) losses against the step; returns points per panel."""
    run_dir = Path(run_dir)
    train_rows, val_rows, note = run_logs(run_dir)
    train, val = series(train_rows), series(val_rows)
    if not train and not val and note is None:
        raise InputError(run_dir / "metrics.jsonl", "no training ticks logged (run the train stage first)")
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, data, name in ((axes[0], train, "train (per tick)"), (axes[1], val, "validation")):
        for key, (steps, values) in sorted(data.items()):
            ax.plot(steps, values, marker="o" if len(steps) < 20 else None, ms=3, label=key)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if data:
            ax.legend(fontsize=7, ncol=2)
            if all(v > 0 for _, vs in data.values() for v in vs):
                ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "nothing logged" if note else "no validation logged",
                    ha="center", va="center", transform=ax.transAxes)
    fig.suptitle((title or run_dir.name) + (f"\n{note}" if note else ""))
    if note:
        fig.subplots_adjust(top=0.80)  # room for the two-line title
    save_figure(fig, Path(out))
    return {"train": sum(len(s) for s, _ in train.values()), "val": sum(len(s) for s, _ in val.values())}
