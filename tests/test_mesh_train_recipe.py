"""The mesh recipe end to end on a tiny sample manifest: fits, losses, checkpoints, resume, methods."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from sample_faces import aligned_samples


@pytest.fixture(scope="module")
def tiny(sample_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """6 identities x 3 aligned frames (4 train, 2 val), their mesh fits and a config."""
    import pandas as pd

    from petra import config
    from petra.config import deep_merge
    from petra.generators.mesh.fit import fit_manifest

    root = tmp_path_factory.mktemp("mesh_train")
    rows = [{"identity": s.identity, "video": s.video, "time_s": 0.5 * s.index, "aligned_path": str(s.path),
             "landmarks": s.landmarks.reshape(-1).astype(np.float32).tolist()}
            for s in aligned_samples(sample_root, root / "aligned", 6, (0.0, 0.5, 1.0))]
    df = pd.DataFrame(rows)
    ids = sorted(df["identity"].unique())
    df["split"] = df["identity"].map({i: "train" if n < 4 else "val" for n, i in enumerate(ids)})
    (root / "manifests").mkdir()
    df.to_parquet(root / "manifests" / "frames.parquet", index=False)
    fits, rejects = fit_manifest(df, "/", progress=False)
    fits.save(root / "fits.npz")
    cfg = deep_merge(config.load(), {
        "paths": {"data": str(root), "models": str(root / "models"), "reports": str(root / "reports")},
        "train_mesh": {"fits": str(root / "fits.npz"),
                       "train": {"steps": 4, "batch_size": 2, "resolution": 64, "tick_steps": 2, "val_steps": 2,
                                 "val_batches": 1, "checkpoint_steps": 2, "device": "cpu"},
                       "hidden": 64, "motion_dim": 16, "id_dim": 16,
                       "refine": {"width": 8, "init": "none",
                                  "data": {"source": "manifest", "workers": 1, "targets_per_clip": 1,
                                           "drivers_per_target": 2}},
                       "variants": {"ours-gen": {"train": {"steps": 4, "batch_size": 2, "tick_steps": 2, "val_steps": 2,
                                                           "val_batches": 1, "checkpoint_steps": 2}}}},
    })
    # LPIPS weights are converted offline by `petra weights`; tests use the checkout's copy.
    from petra.weights import destination

    lp = destination(config.load(), "lpips_alex")
    if not Path(lp).is_file():
        pytest.skip(f"{lp} missing (run `petra weights --offline-assets`)")
    dst = Path(destination(cfg, "lpips_alex"))
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(Path(lp).resolve())
    return cfg, df, fits


def test_fit_cache_maps_canonical_points_back_to_the_image(tiny) -> None:
    from petra.generators.mesh.train_warp import project

    _, df, fits = tiny
    assert fits.arrays["ok"].all()
    a = fits.arrays
    pts = project(torch.tensor(a["canon"]), torch.tensor(a["pose"]), torch.tensor(a["scale"]),
                  torch.tensor(a["translation"]))
    err = (pts[..., :2] - torch.tensor(a["points"][..., :2])).norm(dim=-1)
    assert float(err.max()) < 0.05  # pixels: the torch projection inverts the stored fit


def test_training_starts_exact_on_self_pairs_and_lowers_the_cross_terms(tiny) -> None:
    """Self pairs start exact (the relative base with t_A as reference reproduces s_A's mesh);
    a few Adam steps lower the cross-identity shape term without losing that."""
    from petra.generators.mesh.recipe import MeshOptions, MeshRecipe
    from petra.train.sampler import PairSampler

    torch.manual_seed(0)
    _, df, fits = tiny
    opts = dataclasses.replace(MeshOptions.from_params({"hidden": 64, "motion_dim": 16, "id_dim": 16}),
                               weights={"landmark": 10.0, "id_shape": 100.0})  # mesh terms only: no rendering, fast
    rec = MeshRecipe(opts, fits, 256, None)
    batch = PairSampler(df, "train", 4, 0, 64, "/").batch(0)
    opt = torch.optim.Adam(rec.trainable_parameters(), lr=2e-3)
    first = rec.validate(batch)
    assert first["landmark_px256"] < 0.05, first
    for _ in range(80):
        t = rec.step(batch)
        opt.zero_grad()
        t["total"].backward()
        opt.step()
    last = rec.validate(batch)
    assert last["id_shape"] < 0.8 * first["id_shape"], (first, last)
    assert last["landmark_px256"] < 1.0, (first, last)


def test_train_mesh_checkpoints_resumes_and_drives(tiny, capsys) -> None:
    """mesh-ours-gen (the refine recipe) end to end: its pair set, 4 steps, resumed to 6, then driven."""
    from petra import config
    from petra.config import deep_merge
    from petra.generators import create
    from petra.train.checkpoint import list_checkpoints
    from petra.stages.train import train_method

    from petra.generators.mesh.refine.data import DataOptions, build
    from petra.paths import refine_data_dir

    cfg, df, _ = tiny
    opts = config.build(DataOptions, cfg["train_mesh"]["refine"]["data"])
    build(cfg, df, refine_data_dir(cfg, "manifest"), opts, root="/", log=lambda _: None)
    logs: list[str] = []
    s = train_method(cfg, "mesh-ours-gen", track=False, root="/", log=logs.append)
    run = Path(cfg["paths"]["models"]) / "train" / "mesh-ours-gen"
    assert s["steps"] == 4 and [k for k, _ in list_checkpoints(run)] == [2, 4]
    cfg6 = deep_merge(cfg, {"train_mesh": {"variants": {"ours-gen": {"train": {"steps": 6}}}}})
    s = train_method(cfg6, "mesh-ours-gen", track=False, root="/", log=logs.append)
    assert any("resumed" in line and "step 4" in line for line in logs)
    assert s["steps"] == 6 and s["steps_this_run"] == 2

    from petra.media import read_image

    m = create("mesh-ours-gen", cfg6)
    target = read_image(df[df.split == "val"].aligned_path.iloc[0])
    driving = [read_image(p) for p in df[df.split == "train"].aligned_path.iloc[:2]]
    m.set_target(target)
    m.set_reference(driving[0])
    out = m.drive(driving[1])
    assert out.shape == target.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - target.astype(int)).mean() > 0.5  # the head moved


def test_a_training_step_has_the_same_gradient_every_time(tiny, tmp_path: Path) -> None:
    """Same params + seed = same weights: the loop's setup switches on deterministic kernels, so one
    batch's backward on 2 threads gives bit-identical gradients. (Without them one backward op's
    accumulation order varied by ~1e-8 between identical steps at the sample's 128 px / batch 8,
    Adam grew that into different runs, and mesh-ours' evaluation rows differed between two cold
    sample runs.)"""
    from petra import generators
    from petra.config import deep_merge
    from petra.train.loop import setup

    cfg, df, _ = tiny
    cfg = deep_merge(cfg, {"train_mesh": {"train": {"resolution": 128, "batch_size": 8}}})
    threads = torch.get_num_threads()
    try:
        m = generators.parse("mesh-ours", cfg)
        params, recipe, rows = generators.package(m).prepare_training(cfg, m, df, lambda _: None)
        torch.set_num_threads(2)
        state = setup(cfg, params, tmp_path / "run", rows, recipe, root="/", resume=False, log=lambda _: None)
        batch = state.sampler.batch(0)
        grads = []
        for _ in range(3):
            state.optimizer.zero_grad(set_to_none=True)
            recipe.step(batch)["total"].backward()
            grads.append(torch.cat([p.grad.flatten() for p in recipe.trainable_parameters() if p.grad is not None]))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(grads[0], grads[1]) and torch.equal(grads[0], grads[2]), \
        float(max((grads[1] - grads[0]).abs().max(), (grads[2] - grads[0]).abs().max()))


def test_steps_0_checks_the_shipped_checkpoint_without_data_and_replaces_a_trained_run(tiny) -> None:
    """train.steps 0 (the sample profile's mesh-ours-gen): the shipped file, hash-checked, becomes the run's one
    checkpoint without reading the pair set; it replaces a trained run (and its best.pt, which selection would
    otherwise pick); selection takes it; the curves are those of the shipped file's own training."""
    import hashlib
    import shutil

    from petra.config import deep_merge
    from petra.errors import PetraError
    from petra.generators import parse
    from petra.generators.mesh import train_rule
    from petra.generators.mesh.refine.data import DataOptions, build
    from petra.generators.mesh.refine.shipped import read, shipped_path
    from petra.paths import refine_data_dir
    from petra.report.curves import training_curves
    from petra.stages.train import train_method
    from petra.train.checkpoint import best_path, curves_path, list_checkpoints, load_checkpoint
    from petra.train.select import run_select

    cfg, df, _ = tiny
    from petra import config

    pairs = refine_data_dir(cfg, "manifest")
    if not (pairs / "done.json").is_file():
        build(cfg, df, pairs, config.build(DataOptions, cfg["train_mesh"]["refine"]["data"]), root="/", log=lambda _: None)
    run = Path(cfg["paths"]["models"]) / "train" / "mesh-ours-gen"
    # a fine-tune of the shipped file (same params as the check but for steps: it must not count as the check)
    trained = deep_merge(cfg, {"train_mesh": {"refine": {"init": "shipped", "width": read(shipped_path())["width"]},
                                              "variants": {"ours-gen": {"train": {"steps": 2, "selection": "val_loss"}}}}})
    train_method(trained, "mesh-ours-gen", track=False, root="/", log=lambda _: None)
    assert best_path(run).is_file() and [k for k, _ in list_checkpoints(run)][-1] == 2
    assert train_rule(trained, parse("mesh-ours-gen", trained))["inputs"] == {"pairs": str(pairs / "done.json")}

    check = deep_merge(trained, {"train_mesh": {"variants": {"ours-gen": {"train": {"steps": 0}}}}})
    assert train_rule(check, parse("mesh-ours-gen", check))["inputs"] == {}  # no pair-set job in the DAG
    aside = pairs.with_name(pairs.name + ".aside")
    shutil.move(pairs, aside)  # the check must not read the pair set
    try:
        logs: list[str] = []
        s = train_method(check, "mesh-ours-gen", track=False, root="/", log=logs.append)
    finally:
        shutil.move(aside, pairs)
    assert any("steps 0: a check of" in line for line in logs)
    assert s["steps"] == 0 and [k for k, _ in list_checkpoints(run)] == [0] and not best_path(run).is_file()
    shipped = shipped_path()
    assert s["check"]["init_sha256"] == hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert s["check"]["init_curves"] == str(curves_path(shipped))
    saved = load_checkpoint(list_checkpoints(run)[0][1])["parts"]["R"]
    for k, v in read(shipped)["R"].items():
        assert torch.equal(saved[k], v), k
    sel = run_select(check, "mesh-ours-gen", make_reenactor=lambda p: None, root="/", log=lambda _: None)
    assert sel["step"] == 0 and "check" in sel["criterion"]
    n = training_curves(run, Path(cfg["paths"]["reports"]) / "curves_check.png")
    assert n["train"] > 0 and n["val"] > 0  # the shipped training's own curves

    nothing = deep_merge(check, {"train_mesh": {"refine": {"init": "none"}}})
    with pytest.raises(PetraError, match="steps 0 checks a starting checkpoint"):
        train_method(nothing, "mesh-ours-gen", track=False, root="/", log=lambda _: None)


def test_missing_checkpoint_is_a_one_line_error(tiny) -> None:
    from petra.errors import MissingWeightsError
    from petra.generators import create

    cfg, _, _ = tiny
    with pytest.raises(MissingWeightsError, match="mesh-ours-cos"):
        create("mesh-ours-cos", cfg)


@pytest.mark.parametrize("mode", ["relative", "absolute"])
def test_untrained_model_is_the_hand_made_transfer(tiny, mode: str) -> None:
    """Zero-initialised M: the output mesh is compose_mesh's (the mesh-relative/-absolute
    transfer, from fit_face on the raw points) with the source's own head rotation."""
    from petra.geometry.frame import Similarity
    from petra.geometry.motion import compose_mesh, compose_params, fit_face
    from petra.generators.mesh.recipe import MeshOptions, MeshRecipe

    _, df, fits = tiny
    rec = MeshRecipe(MeshOptions.from_params({"hidden": 32, "motion_dim": 8, "id_dim": 8, "inference": mode}), fits, 256, None,
                     max_shift=0.06 * 256)
    train = df[df.split == "train"]
    a, b = train[train.identity == train.identity.iloc[0]], train[train.identity != train.identity.iloc[0]]
    tgt_p, ref_p, src_p = b.aligned_path.iloc[0], a.aligned_path.iloc[0], a.aligned_path.iloc[-1]
    f = {k: rec.fit_tensors([p]) for k, p in (("t", tgt_p), ("r", ref_p), ("s", src_p))}
    _, _, pts, _ = rec.forward_mesh(f["s"], f["t"], 256, f["r"])
    got = pts[0].detach().double().numpy()
    t, r, s = (fit_face(fits.get(p).points.astype(np.float64)) for p in (tgt_p, ref_p, src_p))
    pose, shape = compose_params(t, s, r, mode, max_shift=0.06 * 256)
    want = Similarity(pose.scale, s.pose.rotation, pose.translation).to_image(shape)
    assert np.abs(got[:, :2] - want[:, :2]).max() < 0.05  # px at 256
    if mode == "absolute":  # mesh-absolute already poses the source's rotation: the whole transfer
        assert np.abs(got[:, :2] - compose_mesh(t, s, None, "absolute")[:, :2]).max() < 0.05
    # self-reenactment (target = reference frame): exactly mesh-relative's output = the source's mesh
    _, _, pts, _ = rec.forward_mesh(f["s"], f["r"], 256, f["r"])
    hand = compose_mesh(r, s, r, mode, max_shift=0.06 * 256)
    assert np.abs(pts[0].detach().double().numpy()[:, :2] - hand[:, :2]).max() < (0.05 if mode == "relative" else 1e9)
    # the expression moved: the output is not simply the target's (or reference's) own mesh
    assert np.abs(got[:, :2] - fits.get(tgt_p).points[:, :2]).max() > 0.5


def test_motion_descriptors_do_not_collapse(tiny) -> None:
    """E_m on real fits: descriptors of different frames point different ways (CosFace can work)."""
    from petra.generators.mesh.recipe import MeshOptions, MeshRecipe

    _, df, fits = tiny
    rec = MeshRecipe(MeshOptions.from_params({"hidden": 64, "motion_dim": 16, "id_dim": 16}), fits, 256, None)
    f = rec.fit_tensors(df.aligned_path.tolist())
    z = torch.nn.functional.normalize(rec.motion(f["canon"], f["pose"]), dim=1)
    cos = z @ z.t()
    off = cos[~torch.eye(len(z), dtype=torch.bool)]
    assert float(off.mean()) < 0.8, float(off.mean())  # the old raw-point input gave ~1.0


def test_trained_variant_renders_with_the_engines_layers(tiny, tmp_path: Path) -> None:
    """mesh-ours renders its output mesh as the engine (mesh-relative) would render that mesh:
    same layers (head layer over the background plate, irises, mouth interior). Before, it
    rendered without the head layer, and its self-pair LPIPS lead over mesh-relative (0.1153 vs
    0.1226 on the sample) was that renderer setting, not M (whose residual was < 0.05 px)."""
    from petra.config import deep_merge
    from petra.generators.mesh.methods import MeshReenactor
    from petra.generators.mesh.recipe import MeshOptions, MeshRecipe
    from petra.generators.mesh.trained import MeshOurs
    from petra.media import read_image
    from petra.train.checkpoint import save_checkpoint

    cfg, df, fits = tiny
    mesh = {"hidden": 32, "motion_dim": 8, "id_dim": 8, "inference": "relative"}
    rec = MeshRecipe(MeshOptions.from_params(mesh), fits, 256, None)
    ckpt = save_checkpoint(tmp_path / "untrained.pt", rec.state_dict(), {"params": {"train_mesh": mesh}}, 0)
    a = df[df.identity == df.identity.iloc[0]].aligned_path
    target, driving = read_image(a.iloc[0]), read_image(a.iloc[-1])
    engine = MeshReenactor(cfg, "relative")
    engine.set_target(target)

    def gap(cfg_: dict) -> float:
        """Mean |mesh-ours's frame - the engine's render of mesh-ours's mesh|."""
        m = MeshOurs(cfg_, "mesh-ours", checkpoint=ckpt)
        m.set_target(target)
        m.set_reference(target)
        out = m.drive(driving).astype(np.float64)
        s = m._fit(driving)
        pts = m.output_mesh(s)
        want = engine._tr.warper.render(pts, driving, s["points"][0].double().numpy())
        return float(np.abs(out - want).mean())

    same, flat = gap(cfg), gap(deep_merge(cfg, {"mesh": {"head_layer": False}}))
    assert same < 0.01 and flat > 0.2, (same, flat)  # identical layers; without the head layer it shows
