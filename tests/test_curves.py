"""`petra curves`: a trained method's run folder -> training-curve PNG + CSV tables for DVC plots."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from petra.errors import InputError
from petra.report.curves import training_curves, write_tables


def _run(folder: Path, ticks: int = 6) -> Path:
    folder.mkdir(parents=True)
    train = [{"step": s, "total": 2.0 / s, "l2": 1.0 / s, "sec_per_step": 0.1} for s in range(1, ticks + 1)]
    val = [{"step": s, "val_total": 3.0 / s} for s in (3, 6)]
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in train) + "\n")
    (folder / "val.jsonl").write_text("\n".join(json.dumps(r) for r in val) + "\n")
    return folder


def test_curves_figure_and_tables_follow_the_run_folder(tmp_path):
    from petra.media import read_image

    run = _run(tmp_path / "train" / "mesh-ours")
    n = training_curves(run, tmp_path / "fig.png", title="mesh-ours")
    assert n == {"train": 12, "val": 2}  # total + l2 per tick (sec_per_step is bookkeeping)
    img = read_image(tmp_path / "fig.png")
    assert img.shape[1] > 500 and img.std() > 10
    tr, va = write_tables(run, tmp_path / "curves", "mesh-ours")
    t = pd.read_csv(tr)
    assert list(t.columns) == ["step", "total", "l2"] and t["total"].iloc[-1] == pytest.approx(2.0 / 6)
    assert pd.read_csv(va)["val_total"].tolist() == pytest.approx([1.0, 0.5])


def test_a_run_without_ticks_is_one_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no training ticks"):
        training_curves(tmp_path / "empty", tmp_path / "fig.png")
    assert not (tmp_path / "fig.png").exists()


def test_petra_curves_refuses_an_untrained_method(tmp_path, project_root, capsys):
    from petra.cli import main

    code = main(["curves", "--params", str(project_root / "params.yaml"), "--method", "copy-target",
                 "--out", str(tmp_path / "x.png")])
    assert code != 0 and "no training curves" in capsys.readouterr().err
