"""pairs → evaluate → report on a small manifest built in tmp_path from sample clips."""
from __future__ import annotations

from petra import paths

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from petra.generators import evaluated_methods

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

CLIPS = {  # identity -> clip (4 frames each, 0.5 s apart)
    "id0001": "id0001/LivePortrait_d0.mp4", "id0004": "id0004/LivePortrait_d3.mp4",
    "id0005": "id0005/LivePortrait_d5.mp4", "id0044": "id0044/dreamtalk_M030_front_happy_level3_001.mp4",
    "id0099": "id0099/dreamtalk_W009_front_surprised_level3_001.mp4",
}
TIMES = (0.0, 0.5, 1.0, 1.5)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory, sample_root: Path) -> Path:
    """A frames.parquet like the data stages write; id0005 is in train, the rest in test."""
    from petra.data.ffhq import align_face
    from petra.data.landmarks import Landmarker
    from petra.evaluate.validate import sample_frames
    from petra.io import write_image, write_parquet

    root = tmp_path_factory.mktemp("evaldata")
    lmk = Landmarker(upsample=0)
    rows = []
    for ident, clip in CLIPS.items():
        video = f"{ident}/{Path(clip).stem}"
        for t, frame in zip(TIMES, sample_frames(sample_root / "videos" / clip, TIMES)):
            al = align_face(frame, lmk(frame), 256)
            path = root / "aligned" / video / f"{int(t * 1000):06d}.png"
            write_image(path, al.image)
            rows.append({"identity": ident, "video": video, "time_s": t, "frame_path": "", "aligned_path": str(path),
                         "landmarks": al.landmarks.astype(np.float32).ravel().tolist(), "yaw": 0.0, "pitch": 0.0,
                         "roll": 0.0, "pose_backend": "mesh", "split": "train" if ident == "id0005" else "test"})
    write_parquet(root / "manifests" / "frames.parquet", pd.DataFrame(rows))
    return root / "manifests" / "frames.parquet"


@pytest.fixture(scope="module")
def cfg(tmp_path_factory, manifest: Path):
    from petra import config

    c = config.load()
    out = tmp_path_factory.mktemp("evalrun")
    c["paths"] = {"data": str(out / "data"), "reports": str(out / "reports"), "models": c["paths"]["models"]}
    c["evaluate"].update(cross_pairs=3, self_pairs=2, frames_per_video=3, methods=["copy-target", "copy-driving"])
    c["report"].update(figure_pairs=2, figure_frames=3)
    return c


def test_pairs_use_test_identities_only_and_are_reproducible(cfg, manifest, tmp_path):
    from petra.stages.pairs import run_pairs

    a = run_pairs(cfg, manifest, tmp_path / "a.parquet")
    b = run_pairs(cfg, manifest, tmp_path / "b.parquet")
    pd.testing.assert_frame_equal(a, b)
    assert "id0005" not in set(a["target_identity"]) | set(a["driving_identity"])
    cross = a[a["kind"] == "cross"]
    assert cross["pair_id"].nunique() == 3 and (cross["target_identity"] != cross["driving_identity"]).all()
    assert cross.groupby("pair_id")["driving_video"].nunique().eq(1).all()
    selfp = a[a["kind"] == "self"]
    assert selfp["pair_id"].nunique() == 2
    assert (selfp["target_path"] != selfp["driving_path"]).all()  # the target frame is never its own ground truth
    assert (selfp["target_video"] == selfp["driving_video"]).all()
    cfg2 = {**cfg, "evaluate": {**cfg["evaluate"], "pairs_seed": 1}}
    c = run_pairs(cfg2, manifest, tmp_path / "c.parquet")
    assert not c[["pair_id", "target_identity", "driving_video"]].equals(a[["pair_id", "target_identity", "driving_video"]])


@pytest.fixture(scope="module")
def evaluated(cfg, manifest):
    from petra.stages.evaluate import run_evaluate
    from petra.stages.pairs import run_pairs

    pairs = paths.pairs_path(cfg)
    run_pairs(cfg, manifest, pairs)
    for m in evaluated_methods(cfg):
        run_evaluate(cfg, m, pairs, paths.eval_frames(cfg, m), paths.eval_outputs(cfg, m))
    return pairs


def test_reference_rows_bracket_the_metrics(cfg, evaluated):

    tgt = pd.read_parquet(paths.eval_frames(cfg, "copy-target"))
    drv = pd.read_parquet(paths.eval_frames(cfg, "copy-driving"))
    assert len(tgt) == len(drv) == len(pd.read_parquet(evaluated))
    # copy-driving: output = driving frame, so pose errors vanish and ratios match exactly
    assert drv["pose_yaw_ae_mesh"].max() == 0.0 and (drv["ear_left_out_dlib"] == drv["ear_left_drv_dlib"]).all()
    # copy-target: output = target, identity is perfect and pose errors are real
    assert tgt["id_csim_dlib"].min() > 0.999
    assert tgt.loc[tgt["kind"] == "cross", "pose_pitch_ae_mesh"].mean() > 0.5
    cross = drv[drv["kind"] == "cross"]
    assert cross["id_csim_dlib"].max() < 0.97  # other people
    selfd = drv[drv["kind"] == "self"]
    assert (selfd["l1"] == 0).all() and (selfd["lpips_alex"].abs() < 1e-6).all() and (selfd["akd_dlib"] == 0).all()
    selft = tgt[tgt["kind"] == "self"]
    assert (selft["l1"] > 0).all() and (selft["lpips_alex"] > 0.01).all()
    out = Path(tgt["output_path"].iloc[0])
    assert out.is_file() and out.parent == paths.eval_outputs(cfg, "copy-target")


def test_report_writes_table_figures_and_mlflow_runs(cfg, evaluated, manifest, tmp_path, monkeypatch):
    import mlflow

    from petra.stages.report import run_report

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("PETRA_PIPELINE_ID", "test-invocation")  # what the Snakefile's onstart sets
    monkeypatch.chdir(tmp_path)  # tracking.py puts artifacts under ./mlruns
    evals = [paths.eval_frames(cfg, m) for m in evaluated_methods(cfg)]
    out = paths.reports_path(cfg)
    table = run_report(cfg, evals, evaluated, manifest, out)
    assert list(table["method"]) == ["copy-target", "copy-driving"]
    t = table.set_index("method")
    assert t.loc["copy-driving", "fl_corr_dlib"] == pytest.approx(1.0)
    assert t.loc["copy-target", "fl_corr_dlib"] == 0.0
    assert t.loc["copy-target", "id_csim_dlib"] > t.loc["copy-driving", "id_csim_dlib"]
    assert t.loc["copy-driving", "pose_mae_yaw_mesh"] == 0.0 < t.loc["copy-target", "pose_mae_yaw_mesh"]
    assert (t["n_pairs_cross"] == 3).all() and (t["n_pairs_self"] == 2).all()
    md = (out / "results.md").read_text()
    assert "`copy-target`" in md and "FL-CORR [dlib]" in md and "FAU-CORR" not in md.split("\n\n")[1]
    csv = pd.read_csv(out / "results.csv")
    assert {"fl_corr_dlib", "fl_corr_dlib_ci95", "id_csim_dlib", "psnr", "lpips_alex"} <= set(csv.columns)
    for name in ("cross_reenactment", "self_reenactment", "landmark_ratio_retrieval", "metric_curves"):
        from petra.media import read_image

        img = read_image(out / "figures" / f"{name}.png")
        assert img.shape[0] > 200 and img.std() > 10, name
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    every = mlflow.search_runs(experiment_names=[f"petra-{cfg['profile']}-results"])
    assert sorted(every["tags.petra.stage"]) == ["evaluate", "evaluate", "pipeline", "report"]
    assert set(every["tags.petra.pipeline_id"]) == {"test-invocation"}
    assert set(every["tags.petra.git_dirty"]) <= {"true", "false", "unknown"}
    assert every["tags.petra.git_commit"].str.fullmatch(r"[0-9a-f]{40}|unknown").all()
    by_stage = every.set_index("tags.petra.stage")
    # nesting: method runs under the report run (which holds the shared artifacts once) under the pipeline run
    assert by_stage.loc["report", "tags.mlflow.parentRunId"] == by_stage.loc["pipeline", "run_id"]
    runs = mlflow.search_runs(experiment_names=[f"petra-{cfg['profile']}-results"],
                              filter_string="tags.`petra.stage` = 'evaluate'")
    assert sorted(runs["tags.mlflow.runName"]) == ["copy-driving", "copy-target"]
    assert set(runs["tags.mlflow.parentRunId"]) == {by_stage.loc["report", "run_id"]}
    assert "metrics.fl_corr_dlib" in runs.columns and "params.evaluate.pairs_seed" in runs.columns
    # params: only what a reference method's numbers depend on (no generator or training settings)
    logged = {c.split(".", 2)[1] for c in runs.columns if c.startswith("params.") and runs[c].notna().any()}
    assert logged == {"method", "evaluate"}, logged
    # compare two methods through the API: copy-driving reproduces the driver's landmarks, copy-target does not
    m = runs.set_index("tags.petra.method")
    assert m.loc["copy-driving", "metrics.fl_corr_dlib"] == pytest.approx(t.loc["copy-driving", "fl_corr_dlib"])
    assert m.loc["copy-driving", "metrics.fl_corr_dlib"] > m.loc["copy-target", "metrics.fl_corr_dlib"]
    assert m.loc["copy-target", "metrics.id_csim_dlib"] > m.loc["copy-driving", "metrics.id_csim_dlib"]
    arts = {a.path for a in mlflow.MlflowClient().list_artifacts(by_stage.loc["report", "run_id"])}
    assert "results.csv" in arts and not mlflow.MlflowClient().list_artifacts(m.loc["copy-target", "run_id"])
    # DVC's metrics files: one per method and a summary
    import json

    summary = json.loads((out / "metrics" / "summary.json").read_text())
    assert set(summary) == {"copy-target", "copy-driving"}
    assert summary["copy-driving"]["fl_corr_dlib"] == pytest.approx(t.loc["copy-driving", "fl_corr_dlib"])
    assert json.loads((out / "metrics" / "copy-target.json").read_text())["n_pairs_cross"] == 3


def test_same_params_give_the_same_per_frame_table(cfg, evaluated, tmp_path):
    from petra.stages.evaluate import run_evaluate

    again = run_evaluate(cfg, "copy-target", evaluated, tmp_path / "again.parquet", None)
    first = pd.read_parquet(paths.eval_frames(cfg, "copy-target"))
    pd.testing.assert_frame_equal(again.drop(columns="output_path"), first.drop(columns="output_path"))


def test_pair_features_measured_once_give_the_same_rows_and_a_stale_table_is_refused(cfg, evaluated, tmp_path):
    """The pair frames' features measured by `petra pair-features` give each method's job exactly
    the rows it measures on its own; a table of other evaluator backends is refused, not used."""
    from petra.errors import InputError
    from petra.evaluate.analyzer import Analyzer
    from petra.evaluate.features import prime
    from petra.stages.evaluate import run_evaluate
    from petra.stages.pair_features import run_pair_features

    table = tmp_path / "features.parquet"
    n = run_pair_features(cfg, evaluated, table)
    pairs = pd.read_parquet(evaluated)
    assert n == len(set(pairs["target_path"]) | set(pairs["driving_path"]))
    own = run_evaluate(cfg, "mesh-relative", evaluated, tmp_path / "own.parquet", None)
    primed = run_evaluate(cfg, "mesh-relative", evaluated, tmp_path / "primed.parquet", None, features=table)
    pd.testing.assert_frame_equal(own, primed)
    an = Analyzer(cfg)
    assert prime(an, table) == n
    calls = []
    measure = an._analyse
    an._analyse = lambda rgb: calls.append(1) or measure(rgb)
    from petra import generators
    from petra.evaluate.runner import run_method

    run_method(cfg, "copy-driving", generators.create("copy-driving", cfg), pairs, None, analyzer=an, lpips=None)
    assert not calls  # copy-driving outputs its driving frames: every feature comes from the table
    stale = pd.read_parquet(table).assign(backends='{"other": 1}')
    stale.to_parquet(tmp_path / "stale.parquet", index=False)
    with pytest.raises(InputError, match="other evaluator backends"):
        prime(Analyzer(cfg), tmp_path / "stale.parquet")


def test_unreadable_driving_frame_is_rejected_and_the_job_goes_on(cfg, evaluated, tmp_path):
    from petra.stages.evaluate import run_evaluate

    pairs = pd.read_parquet(evaluated)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    pairs.loc[1, "driving_path"] = str(bad)
    pairs.to_parquet(tmp_path / "pairs.parquet", index=False)
    frames = run_evaluate(cfg, "copy-driving", tmp_path / "pairs.parquet", tmp_path / "e.parquet", None)
    assert len(frames) == len(pairs) - 1
    rej = pd.read_parquet(tmp_path / "e.rejects.parquet")
    assert list(rej["path"]) == [str(bad)] and "not a readable image" in rej["reason"].iloc[0]


def test_cli_names_a_missing_pair_list_in_one_line(tmp_path, capsys):
    from petra.cli import main

    code = main(["evaluate", "--method", "copy-target", "--pairs", str(tmp_path / "none.parquet"),
                 "--out", str(tmp_path / "x.parquet")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "none.parquet" in err[0] and "petra pairs" in err[0]


def test_a_generator_registered_through_the_registry_only_is_evaluated_and_reported(cfg, evaluated, manifest,
                                                                                    tmp_path, monkeypatch):
    """Extensibility: a new generator is its module + one register() call; pairs, evaluation and the
    report need no other change."""
    from petra import generators
    from petra.stages.evaluate import run_evaluate
    from petra.stages.report import run_report

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    generators.register(generators.Generator("toy", "toy", "toy_generator", fixed={"still": "handmade"}))
    try:
        assert generators.parse("toy-still") == generators.Method("toy-still", "toy", "handmade", "still")
        c = {**cfg, "evaluate": {**cfg["evaluate"], "methods": ["copy-target", "toy-still"]}}
        out = paths.eval_frames(c, "toy-still")
        run_evaluate(c, "toy-still", evaluated, out, None)
        table = run_report(c, [paths.eval_frames(c, "copy-target"), out], evaluated, manifest,
                           tmp_path / "reports").set_index("method")
    finally:
        generators.unregister("toy")
    assert list(table.index) == ["copy-target", "toy-still"]
    for col in ("id_csim_dlib", "pose_mae_yaw_mesh", "psnr"):
        assert table.loc["toy-still", col] == pytest.approx(table.loc["copy-target", col]), col
    with pytest.raises(Exception, match="unknown method 'toy-still'"):
        generators.parse("toy-still")


def test_a_method_with_set_clip_sees_the_pairs_driving_frames_before_driving(cfg, evaluated):
    """On cross pairs the runner hands a method the whole driving clip (set_clip) after set_reference
    and before the first drive(), so relative methods can use the clip's neutral face."""
    from petra.evaluate.analyzer import Analyzer
    from petra.evaluate.runner import run_method

    class Recorder:
        name = "recorder"

        def __init__(self) -> None:
            self.calls: list[tuple[str, Any]] = []

        def set_target(self, target: np.ndarray) -> None:
            self.calls.append(("target", None))

        def set_reference(self, driving0: np.ndarray) -> None:
            self.calls.append(("reference", None))

        def set_clip(self, frames: list[np.ndarray]) -> None:
            self.calls.append(("clip", [f.copy() for f in frames]))

        def drive(self, driving: np.ndarray) -> np.ndarray:
            self.calls.append(("drive", driving.copy()))
            return driving

    pairs = pd.read_parquet(evaluated)
    rec = Recorder()
    frames, _, _ = run_method(cfg, "copy-driving", rec, pairs, None, analyzer=Analyzer(cfg), lpips=None)
    assert len(frames) == len(pairs)
    kinds = [k for k, _ in rec.calls]
    n_cross = pairs.loc[pairs["kind"] == "cross", "pair_id"].nunique()
    assert kinds.count("clip") == n_cross > 0  # self pairs: the target is the clip's first frame, no clip
    for i, (kind, clip) in enumerate(rec.calls):
        if kind != "clip":
            continue
        assert kinds[i - 1] == "reference" and kinds[i + 1] == "drive"
        driven = [d for k, d in rec.calls[i + 1:i + 1 + len(clip)] if k == "drive"]
        assert len(driven) == len(clip)
        assert all(np.array_equal(a, b) for a, b in zip(clip, driven))  # the same frames, in order
