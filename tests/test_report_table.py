"""results.md / results.csv formatting: backend names visible, substitutes labelled, CI shown."""
from __future__ import annotations

import math

import pandas as pd

from petra.report.mlflow_log import method_params, row_metrics
from petra.report.table import to_markdown, write_tables


def _table() -> pd.DataFrame:
    return pd.DataFrame([
        {"method": "copy-target", "n_pairs_cross": 8, "pose_mae_yaw_mesh": 4.6851, "pose_mae_yaw_mesh_ci95": 2.6132,
         "fl_corr_dlib": 0.0, "fl_corr_dlib_ci95": 0.0, "geom_au_corr_dlib": 0.0, "geom_au_corr_dlib_ci95": 0.0,
         "id_csim_arcface": 1.0, "id_csim_arcface_ci95": float("nan"), "n_pairs_self": 4, "psnr": 18.2,
         "psnr_ci95": 7.76, "self_id_csim_arcface": 1.0, "self_id_csim_arcface_ci95": 0.0},
        {"method": "mesh-relative", "n_pairs_cross": 8, "pose_mae_yaw_mesh": float("nan"),
         "pose_mae_yaw_mesh_ci95": float("nan"), "fl_corr_dlib": 0.41234, "fl_corr_dlib_ci95": 0.1,
         "geom_au_corr_dlib": 0.3, "geom_au_corr_dlib_ci95": 0.1, "id_csim_arcface": 0.7,
         "id_csim_arcface_ci95": 0.05, "n_pairs_self": 4, "psnr": 25.0, "psnr_ci95": 1.0,
         "self_id_csim_arcface": 0.9, "self_id_csim_arcface_ci95": 0.01},
    ])


def test_markdown_names_backends_and_marks_the_au_substitute():
    md = to_markdown(_table())
    header = md.splitlines()[2]
    assert "yaw MAE (°) [mesh] ↓" in header and "FL-CORR [dlib] ↑" in header
    assert "ID-CSIM [arcface] ↑" in header and "geom-AU-CORR (substitute) [dlib]" in header
    assert "FAU-CORR" not in header  # no OpenGraphAU column was measured
    assert header.index("self pairs") < header.index("PSNR")  # self metrics after the self pair count
    rows = md.splitlines()[4:6]
    assert "| 4.685 ± 2.613 |" in rows[0] and "| 1.000 |" in rows[0]  # NaN CI: mean only
    assert "| — |" in rows[1] and "0.412 ± 0.100" in rows[1] and "25.00 ± 1.00" in rows[1]


def test_csv_keeps_every_column(tmp_path):
    csv, md = write_tables(_table(), tmp_path)
    back = pd.read_csv(csv)
    assert list(back.columns) == list(_table().columns)
    assert math.isclose(back.loc[1, "fl_corr_dlib"], 0.41234)
    assert md.read_text().startswith("# Results")


def test_mlflow_payload_is_flat_and_finite():
    cfg = {"profile": "sample", "paths": {"data": "d"}, "evaluate": {"pairs_seed": 0, "backends": {"pose": "mesh"}}}
    p = method_params(cfg, "mesh-relative")
    assert p["method"] == "mesh-relative" and "paths" not in p and p["evaluate"]["backends"]["pose"] == "mesh"
    m = row_metrics(_table().iloc[1])
    assert "pose_mae_yaw_mesh" not in m and m["fl_corr_dlib"] == 0.41234 and m["n_pairs_cross"] == 8


def test_figures_say_so_when_a_kind_of_pair_is_missing(tmp_path):
    from petra.media import read_image
    from petra.report.figures import self_strip

    pairs = pd.DataFrame({"pair_id": ["cross-000"], "kind": ["cross"]})
    path = self_strip(pairs, {}, tmp_path / "self.png", tmp_path)
    assert read_image(path).shape[1] > 300


def test_paired_table_pairs_by_pair_id_and_judges_beyond_the_interval() -> None:
    import numpy as np
    import pandas as pd

    from petra.evaluate.summary import paired_table
    from petra.report.table import paired_markdown

    rng = np.random.default_rng(0)
    spread = rng.normal(0.3, 0.1, 12)  # pair-to-pair spread both methods share
    rows = []
    for i, s in enumerate(spread):
        rows.append({"method": "ref", "pair_id": f"self-{i:03d}", "kind": "self", "lpips_alex": s, "psnr": 20 + s})
        rows.append({"method": "new", "pair_id": f"self-{i:03d}", "kind": "self", "lpips_alex": s - 0.02,
                     "psnr": 20 + s + rng.normal(0, 0.5)})
    t = paired_table(pd.DataFrame(rows), "ref")
    lp = t[t["metric"] == "lpips_alex"].iloc[0]
    assert lp["n_pairs"] == 12 and abs(lp["diff"] + 0.02) < 1e-9
    assert lp["better_beyond_ci"] and not lp["worse_beyond_ci"]  # lower LPIPS is better, every pair by 0.02
    ps = t[t["metric"] == "psnr"].iloc[0]
    assert not ps["better_beyond_ci"] and not ps["worse_beyond_ci"]  # noise only
    assert "new vs ref" in paired_markdown(t)
