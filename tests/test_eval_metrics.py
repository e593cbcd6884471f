"""Metric definitions (docs/evaluation.md) on hand-worked cases and the LPIPS fixture."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from petra.evaluate import image_metrics as im
from petra.evaluate.ratios import RATIO_NAMES, geometric_au, landmark_ratios
from petra.evaluate.stats import mean_ci95, pearson, roc_auc
from petra.evaluate.summary import per_pair, results_table


def _face(eye_open: float = 4.0, mouth_open: float = 0.0, brow_lift: float = 0.0) -> np.ndarray:
    """A schematic dlib-68 face: eyes 20 px wide, a 40 px mouth, brows 15 px above the eyes."""
    lm = np.zeros((68, 2))
    lm[0:17] = np.stack([np.linspace(40, 216, 17), 150 + 60 * np.sin(np.linspace(0, np.pi, 17))], 1)
    for eye0, cx in ((36, 90.0), (42, 166.0)):
        lm[eye0:eye0 + 6] = [[cx - 10, 100], [cx - 4, 100 - eye_open / 2], [cx + 4, 100 - eye_open / 2],
                             [cx + 10, 100], [cx + 4, 100 + eye_open / 2], [cx - 4, 100 + eye_open / 2]]
    for brow0, cx in ((17, 90.0), (22, 166.0)):
        lm[brow0:brow0 + 5] = np.stack([np.linspace(cx - 12, cx + 12, 5), np.full(5, 85.0 - brow_lift)], 1)
    lm[27:36] = [[128, 100 + 8 * i] for i in range(4)] + [[116 + 6 * i, 135] for i in range(5)]
    lm[48:60] = np.stack([128 + 24 * np.cos(np.linspace(np.pi, -np.pi, 12, endpoint=False)),
                          180 + 8 * np.sin(np.linspace(np.pi, -np.pi, 12, endpoint=False))], 1)
    lm[60:68] = [[108, 180], [118, 180 - mouth_open / 2], [128, 180 - mouth_open / 2], [138, 180 - mouth_open / 2],
                 [148, 180], [138, 180 + mouth_open / 2], [128, 180 + mouth_open / 2], [118, 180 + mouth_open / 2]]
    return lm


def test_eye_aspect_ratio_is_the_soukupova_cech_formula():
    r = landmark_ratios(_face(eye_open=4.0))
    # (|p2-p6| + |p3-p5|) / (2 |p1-p4|) = (4 + 4) / (2 * 20)
    assert r[RATIO_NAMES.index("ear_right")] == pytest.approx(0.2)
    assert r[RATIO_NAMES.index("ear_left")] == pytest.approx(0.2)


def test_ratios_follow_eyes_mouth_and_brows_and_ignore_scale_and_rotation():
    base = landmark_ratios(_face())
    assert landmark_ratios(_face(eye_open=1.0))[0] < base[0]
    assert landmark_ratios(_face(mouth_open=12.0))[2] == pytest.approx(12.0 / 40.0)
    assert landmark_ratios(_face(brow_lift=6.0))[3] > base[3]
    a = np.radians(25)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = 1.7 * _face() @ rot.T + [30, -12]
    np.testing.assert_allclose(landmark_ratios(moved), base, rtol=1e-9)
    np.testing.assert_allclose(landmark_ratios(_face().ravel()), base)  # the manifest's flat 136 form


def test_geometric_au_proxies_move_with_their_muscles():
    au = geometric_au(_face())
    assert geometric_au(_face(eye_open=0.5))[3] > au[3]  # AU45 blink: eyes closing raises it
    assert geometric_au(_face(mouth_open=10))[2] == pytest.approx(au[2])  # jaw landmark 8 did not move


def test_pearson_conventions_for_constant_series():
    x = [0.1, 0.3, 0.2, 0.5]
    assert pearson(x, [2 * v + 1 for v in x]) == pytest.approx(1.0)
    assert pearson(x, [-v for v in x]) == pytest.approx(-1.0)
    assert pearson(x, [0.4] * 4) == 0.0  # output frozen while the driver moves: followed nothing
    assert math.isnan(pearson([0.4] * 4, x))  # driver frozen: nothing to follow
    assert math.isnan(pearson([0.1, 0.2], [0.1, 0.2]))  # too few frames
    assert pearson([0.1, np.nan, 0.3, 0.2, 0.5], [1, 5, 3, 2, 5]) == pytest.approx(pearson(x, [1, 3, 2, 5]))


def test_mean_ci95_uses_the_t_interval():
    mean, half, n = mean_ci95([1.0, 2.0, 3.0, np.nan])
    assert (mean, n) == (2.0, 3)
    assert half == pytest.approx(4.302653 * 1.0 / math.sqrt(3), rel=1e-5)  # t(0.975, 2) * sd / sqrt(n)
    assert math.isnan(mean_ci95([5.0])[1])


def test_roc_auc_counts_ties_half():
    assert roc_auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert roc_auc([0.1], [0.9]) == 0.0
    assert roc_auc([0.5], [0.5]) == 0.5


def test_image_metrics_on_known_differences():
    a = np.zeros((32, 32, 3), np.uint8)
    b = np.full((32, 32, 3), 51, np.uint8)
    assert im.l1(a, b) == pytest.approx(0.2)
    assert im.psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 51**2))
    assert math.isinf(im.psnr(a, a)) and im.ssim(b, b) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    noisy = np.clip(b + rng.normal(0, 20, b.shape), 0, 255).astype(np.uint8)
    assert 0 < im.ssim(b, noisy) < 0.9
    lm = _face()
    assert im.akd(lm, lm + [3, 4], size=512) == pytest.approx(2.5)  # 5 px at 512 = 2.5 px at 256
    assert im.cosine([1, 0], [0, 2]) == pytest.approx(0.0)


def test_lpips_alexnet_reproduces_the_reference_fixture(fixtures_dir):
    from petra import config
    from petra.evaluate.perceptual import Lpips
    from petra.media import read_image

    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    ref = json.loads((fixtures_dir / "lpips" / "lpips_reference.json").read_text())
    metric = Lpips("alex", config.load())
    imgs = [read_image(fixtures_dir / "ffhq_align" / "expected" / n) for n in ref["images"]]
    got = [metric(imgs[i], imgs[j]) for i, j in ref["pairs"]]
    np.testing.assert_allclose(got, ref["lpips"]["alexnet"], atol=ref["tolerance_abs"])


def _frames(method: str, out_ratio: list[float], pair="cross-000", kind="cross") -> pd.DataFrame:
    drv = [0.2, 0.3, 0.25, 0.4]
    rows = []
    for i, (d, o) in enumerate(zip(drv, out_ratio)):
        row = {"method": method, "pair_id": pair, "kind": kind, "frame_index": i,
               "pose_yaw_ae_mesh": float(i), "pose_pitch_ae_mesh": 1.0, "id_csim_dlib": 0.9}
        for n in RATIO_NAMES:
            row[f"{n}_drv_dlib"], row[f"{n}_out_dlib"] = d, o
        rows.append(row)
    return pd.DataFrame(rows)


def test_per_pair_and_table_average_frames_then_pairs():
    f = pd.concat([
        _frames("a", [0.2, 0.3, 0.25, 0.4]), _frames("a", [0.4, 0.3, 0.35, 0.2], pair="cross-001"),
        _frames("b", [0.3, 0.3, 0.3, 0.3]),
    ])
    pp = per_pair(f)
    a0 = pp[(pp.method == "a") & (pp.pair_id == "cross-000")].iloc[0]
    assert a0["fl_corr_dlib"] == pytest.approx(1.0) and a0["pose_yaw_ae_mesh"] == pytest.approx(1.5)
    a1 = pp[(pp.method == "a") & (pp.pair_id == "cross-001")].iloc[0]
    assert a1["fl_corr_dlib"] == pytest.approx(-1.0)
    t = results_table(pp, ["b", "a"]).set_index("method")
    assert list(t.index) == ["b", "a"]
    assert t.loc["a", "n_pairs_cross"] == 2 and t.loc["a", "fl_corr_dlib"] == pytest.approx(0.0)
    assert t.loc["b", "fl_corr_dlib"] == 0.0  # a frozen output scores 0, not NaN
    assert t.loc["a", "pose_mae_yaw_mesh"] == pytest.approx(1.5) and t.loc["a", "pose_mae_yaw_mesh_ci95"] == 0.0
    assert "fau_corr_opengraphau" not in t.columns  # no substitute under the thesis name


def test_fau_corr_averages_the_pearson_r_of_every_opengraphau_probability():
    """AU1 and AU2 follow the driving series, AU4 mirrors it: FAU-CORR = (1 + 1 - 1) / 3 per pair."""
    from petra.evaluate.action_units import OPENGRAPHAU_NAMES

    f = _frames("a", [0.2, 0.3, 0.25, 0.4])
    drv = np.array([0.1, 0.6, 0.3, 0.9])
    for name, out in zip(OPENGRAPHAU_NAMES[:3], (drv, 0.5 * drv + 0.2, 1.0 - drv)):
        f[f"{name}_drv_opengraphau"], f[f"{name}_out_opengraphau"] = drv, out
    pp = per_pair(f)
    assert pp.iloc[0]["fau_corr_opengraphau"] == pytest.approx(1 / 3)
    assert "geom_au_corr_dlib" not in pp.columns  # the substitute is not derived from OpenGraphAU columns
