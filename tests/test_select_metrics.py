"""Checkpoint selection ranks by the metrics table's ``val`` metrics, with the same scores and choices as the
code before the table (petra.train.select at c059527, kept below as the reference)."""
from __future__ import annotations

import math

import numpy as np

from petra.evaluate.analyzer import Backends, Features
from petra.evaluate.metrics import VAL_POSE_MAE, VAL_RATIO_MAE, for_table_column, label, of_kind
from petra.train.select import _ranks, choose, score_outputs


def _reference_score(an, outs, drvs):
    """score_outputs before the metrics table: (pose MAE over yaw+pitch, ratio MAE)."""
    pose, ratio = [], []
    for o, d in zip(outs, drvs):
        fo, fd = an(o), an(d)
        if fo.pose is not None and fd.pose is not None:
            pose.append((abs(fo.pose[0] - fd.pose[0]) + abs(fo.pose[1] - fd.pose[1])) / 2)
        if fo.ratios is not None and fd.ratios is not None and np.all(np.isfinite(fo.ratios)) and np.all(np.isfinite(fd.ratios)):
            ratio.append(float(np.mean(np.abs(fo.ratios - fd.ratios))))
    return (float(np.mean(pose)) if pose else math.nan, float(np.mean(ratio)) if ratio else math.nan)


def _reference_choose(rows):
    """The ranking before the metrics table: columns by prefix, lower is better, ties to the later step."""
    def ranks(values):
        order = sorted(range(len(values)), key=lambda i: (math.isnan(values[i]), values[i]))
        r = [0.0] * len(values)
        for rank, i in enumerate(order):
            r[i] = float(rank)
        return r

    cols = [c for c in rows[0] if c.startswith(("val_pose_mae_", "val_ratio_mae_"))]
    measurable = [c for c in cols if any(not math.isnan(r[c]) for r in rows)]
    if measurable:
        mean = np.mean([ranks([r[c] for r in rows]) for c in measurable], axis=0)
        return min(range(len(rows)), key=lambda i: (mean[i], -rows[i]["step"])), "mean rank of " + ", ".join(measurable)
    best = min(range(len(rows)), key=lambda i: (math.isnan(rows[i]["val_total"]), rows[i]["val_total"], -rows[i]["step"]))
    return best, "val_total (no measurable face in any validation output)"


class FakeAnalyzer:
    """Features per image id (the image's first pixel); some images have no pose, no ratios or NaN ratios."""

    def __init__(self, rng: np.random.Generator, n: int, backends: Backends) -> None:
        self.backends = backends
        self.features = {}
        for i in range(n):
            pose = None if rng.random() < 0.15 else tuple(np.round(rng.normal(0, 12, 3), 1))  # rounded: ties happen
            ratios = None if rng.random() < 0.15 else np.round(rng.uniform(0.1, 0.6, 5), 2)
            if ratios is not None and rng.random() < 0.1:
                ratios[rng.integers(5)] = np.nan
            self.features[i] = Features(pose, None, ratios, None, None)

    def __call__(self, rgb: np.ndarray) -> Features:
        return self.features[int(rgb[0, 0, 0])]


def _img(i: int) -> np.ndarray:
    return np.full((2, 2, 3), i, np.uint8)


def test_selection_scores_and_ranking_are_those_of_the_code_before_the_metrics_table():
    rng = np.random.default_rng(11)
    backends = Backends(pose="hopenet", landmarks="fan", identity="dlib", au="geom")
    chosen, fallback = set(), 0
    for trial in range(60):
        n_pairs, n_ckpts = int(rng.integers(1, 6)), int(rng.integers(2, 7))
        an = FakeAnalyzer(rng, 250, backends)
        if trial % 10 == 9:  # no measurable face anywhere: the validation loss decides
            an.features = {k: Features(None, None, None, None, None) for k in an.features}
        drvs = [_img(int(i)) for i in rng.integers(0, 250, n_pairs)]
        rows = []
        for step in range(1, n_ckpts + 1):
            outs = [_img(int(i)) for i in rng.integers(0, 250, n_pairs)]
            new = score_outputs(an, outs, drvs)
            pose, ratio = _reference_score(an, outs, drvs)
            assert list(new) == ["val_pose_mae_hopenet", "val_ratio_mae_fan"]
            for got, want in zip(new.values(), (pose, ratio)):
                assert got == want or (math.isnan(got) and math.isnan(want))  # bit for bit
            rows.append({"step": step * 10, "checkpoint": f"ckpt-{step}.pt",
                         "val_total": float(np.round(rng.uniform(0, 1), 1)), **new})
        assert choose(rows) == _reference_choose(rows)
        chosen.add(choose(rows)[0])
        fallback += choose(rows)[1].startswith("val_total")
    assert len(chosen) > 3 and fallback >= 6  # the cases were varied: many winners, and the fallback ran


def test_selection_metrics_live_in_the_metrics_table():
    assert [m.key for m in of_kind("val")] == ["val_pose_mae", "val_ratio_mae"]
    assert for_table_column("val_pose_mae_mesh") is VAL_POSE_MAE and for_table_column("val_ratio_mae_dlib") is VAL_RATIO_MAE
    assert for_table_column("val_total") is None and for_table_column("step") is None
    assert label("val_pose_mae_hopenet") == "pose MAE, yaw and pitch (°) [hopenet]"
    assert VAL_POSE_MAE.frame_column("mesh") == "pose_ae_mesh" and not VAL_POSE_MAE.higher_is_better
    # the ranking follows the table's direction: lower first, or higher first; NaN always last
    assert _ranks([0.3, 0.1, math.nan, 0.2], False) == [2.0, 0.0, 3.0, 1.0]
    assert _ranks([0.3, 0.1, math.nan, 0.2], True) == [0.0, 2.0, 3.0, 1.0]
