"""The learned refinement (mesh-ours-gen): its inputs, pair set, training recipe, checkpoint and engine hook."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from petra.config import build
from petra.generators.mesh.refine.condition import INPUTS, driver_regions, net_input, region_change, region_masks
from petra.generators.mesh.refine.data import DataOptions, RefineData, choose_pairs
from petra.generators.mesh.refine.recipe import RefineOptions, RefineRecipe


def _face_points(size: int = 256, shift: tuple[float, float] = (0.0, 0.0), scale: float = 9.0) -> np.ndarray:
    """A plausible 478-point mesh in crop pixels: the canonical face, projected."""
    from petra.geometry.canonical import refined_vertices

    v = refined_vertices()
    out = np.zeros_like(v)
    out[:, 0] = v[:, 0] * scale + size / 2 + shift[0]
    out[:, 1] = -v[:, 1] * scale + size / 2 + 20 + shift[1]
    out[:, 2] = v[:, 2] * scale
    return out


def test_driver_regions_follow_the_output_mesh_and_carry_no_colour() -> None:
    rng = np.random.default_rng(0)
    size = 256
    driving = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    drv = _face_points(size)
    out = _face_points(size, shift=(12.0, -7.0))
    luma, mask = driver_regions(driving, drv, out, size)
    # mouth and eyes only: a small share of the crop, around the output's mouth
    assert 0.01 < (mask > 127).mean() < 0.15
    mouth = out[[13, 14], :2].mean(0).round().astype(int)
    assert mask[mouth[1], mouth[0]] == 255
    # inside the regions the driver's luma moved with the mesh (12 px right, 7 px up)
    import cv2

    grey = cv2.cvtColor(driving, cv2.COLOR_RGB2GRAY).astype(float)
    inside = np.argwhere(mask == 255)
    ys, xs = inside[:, 0], inside[:, 1]
    assert np.abs(luma[ys, xs] - grey[ys + 7, xs - 12]).mean() < 3.0
    # the net sees how the regions changed from the driver's reference frame, not how they look:
    # a driver frame equal to its reference (whatever its appearance) gives exactly zero
    assert not region_change(luma, luma, mask).any()
    assert not region_change(luma, None, mask).any()  # no reference (absolute mode)
    # the mouth darkened (e.g. opened) shows there only, with the same sign for any colouring
    opened = driving.copy()
    lips = np.zeros((size, size), np.uint8)
    import cv2 as _cv2
    from petra.geometry.canonical import LIPS_OUTER

    _cv2.fillPoly(lips, [np.round(drv[LIPS_OUTER, :2]).astype(np.int32)], 255)
    opened[lips == 255] //= 3
    luma_open, _ = driver_regions(opened, drv, out, size)
    ch = region_change(luma_open, luma, mask)
    mouth_out = np.zeros((size, size), np.uint8)
    _cv2.fillPoly(mouth_out, [np.round(out[LIPS_OUTER, :2]).astype(np.int32)], 255)
    inner = _cv2.erode(mouth_out, np.ones((5, 5), np.uint8)) == 255
    assert ch[inner].mean() < -0.3 and np.abs(ch[(mask == 255) & (mouth_out == 0)]).mean() < 0.02
    tinted = np.clip(driving.astype(int) * np.array([1.2, 1.0, 0.8]), 0, 255).astype(np.uint8)
    tinted_open = np.clip(opened.astype(int) * np.array([1.2, 1.0, 0.8]), 0, 255).astype(np.uint8)
    ch2 = region_change(driver_regions(tinted_open, drv, out, size)[0], driver_regions(tinted, drv, out, size)[0], mask)
    assert np.corrcoef(ch[mask == 255], ch2[mask == 255])[0, 1] > 0.95
    x = net_input(driving, driving, luma_open, mask, luma)
    assert x.shape == (8, size, size) and x.dtype == np.float32
    assert len(region_masks(out, size)) == 3


def _table(n_clips: int = 4, frames: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for c in range(n_clips):
        base = rng.normal(128, 30, (68, 2))
        for f in range(frames):
            lm = base + (f % 4) * 3.0 * rng.normal(size=(68, 2))  # every 4th frame is the still one
            rows.append({"clip": f"id{c // 2:04d}/v{c}", "identity": f"id{c // 2:04d}",
                         "split": "train", "time_s": f * 0.5, "landmarks": lm.reshape(-1).tolist()})
    return pd.DataFrame(rows)


def test_choose_pairs_is_deterministic_keeps_clips_apart_and_favours_motion() -> None:
    table = _table()
    opts = build(DataOptions, {"targets_per_clip": 3, "drivers_per_target": 4, "max_gap_s": 3.0, "cross_per_clip": 1,
                               "seed": 3})
    pairs = choose_pairs(table, opts)
    assert pairs.equals(choose_pairs(table, opts))
    assert not pairs.equals(choose_pairs(table, DataOptions(**{**opts.__dict__, "seed": 4})))
    s, c = pairs[pairs["kind"] == "self"], pairs[pairs["kind"] == "cross"]
    assert len(s) == 4 * 3 * 4 and len(c) == 4 * 4
    t, d = table.loc[s["target"]].reset_index(), table.loc[s["driver"]].reset_index()
    assert (t["clip"] == d["clip"]).all() and (s["target"] != s["driver"]).all()
    assert ((t["time_s"] - d["time_s"]).abs() <= 3.0).all()
    ct, cd = table.loc[c["target"]].reset_index(), table.loc[c["driver"]].reset_index()
    assert (ct["identity"] != cd["identity"]).all()
    # large motion is favoured: drivers are rarely the frames that equal the clip's still pose
    still = (d["time_s"] / 0.5).round().astype(int) % 4 == 0
    assert still.mean() < 0.2


def _tiny_data(size: int = 32, n: int = 24) -> RefineData:
    """Pairs whose hand-made result is the ground truth darkened in the mouth region."""
    rng = np.random.default_rng(0)
    frames = rng.integers(40, 220, (n, size, size, 3), dtype=np.uint8)
    mask = np.zeros((n, size, size), np.uint8)
    mask[:, 18:26, 8:24] = 255
    pairs = pd.DataFrame({"group": np.arange(n), "kind": ["self"] * (n - 4) + ["cross"] * 4,
                          "split": ["train"] * (n - 8) + ["val"] * 8, "target": (np.arange(n) + 1) % n,
                          "driver": np.arange(n), "reference": "target", "ok": True})
    base = frames.copy()
    base[mask == 255] = (base[mask == 255] * 0.4).astype(np.uint8)
    luma = frames.mean(-1).astype(np.uint8)
    table = pd.DataFrame({"clip": "c", "identity": "i", "split": "train", "time_s": np.arange(n) * 0.5,
                          "landmarks": [[0.0] * 136] * n})
    return RefineData(frames, table, pairs, base, luma, mask, luma[pairs["target"].to_numpy()])


def test_refine_recipe_learns_the_correction_and_batches_are_reproducible() -> None:
    torch.manual_seed(0)
    data = _tiny_data()
    opts = RefineOptions.from_params({"width": 8, "init": "none", "cross_share": 0.25, "weights": {
        "l1": 1.0, "l2": 0.0, "lpips": 0.0, "l2_crop": 2.0, "lpips_crop": 0.0, "keep": 0.5}})
    recipe = RefineRecipe(opts, data, None)
    train, val = recipe.make_sampler("train", 4, 0), recipe.make_sampler("val", 4, 7)
    b1, b2 = train.batch(5), recipe.make_sampler("train", 4, 0).batch(5)
    assert torch.equal(b1.x, b2.x) and torch.equal(b1.gt, b2.gt)
    v0 = recipe.validate(val.batch(0))
    assert v0["l1"] == pytest.approx(v0["base_l1"], abs=1e-6)  # untrained = the hand-made result
    opt = torch.optim.Adam(recipe.trainable_parameters(), lr=3e-3)
    for k in range(120):
        terms = recipe.step(train.batch(k))
        opt.zero_grad()
        terms["total"].backward()
        opt.step()
    v1 = recipe.validate(val.batch(0))
    assert v1["l1"] < 0.8 * v1["base_l1"]
    grid = recipe.sample_grid(val.batch(0))
    assert grid.dtype == np.uint8 and grid.shape[1] == 4 * 32


def test_refiner_is_the_handmade_transfer_at_init_and_changes_it_when_trained(tmp_path: Path, sample_root: Path) -> None:
    from petra import config
    from petra.generators.mesh.methods import MeshReenactor
    from petra.generators.mesh.refine.net import RefineNet
    from petra.generators.mesh.refine.reenactor import Refiner
    from petra.media import read_image
    from tests.sample_faces import aligned_samples

    samples = aligned_samples(sample_root, tmp_path / "crops", 2, (0.0, 1.0))
    target, driving = read_image(samples[0].path), read_image(samples[-1].path)
    cfg = config.load()
    net = RefineNet(8)
    ckpt = tmp_path / "r.pt"
    torch.save({"R": net.state_dict(), "width": 8, "provenance": {}, "inputs": INPUTS}, ckpt)
    outs = []
    for refiner in (None, Refiner(ckpt)):
        r = MeshReenactor(cfg, "relative", refiner=refiner)
        r.set_target(target)
        r.set_reference(target)
        outs.append(r.drive(driving))
        r.close()
    assert np.array_equal(outs[0], outs[1])
    with torch.no_grad():
        net.out[0].bias[:3] = 0.5  # brighten everywhere
    torch.save({"R": net.state_dict(), "width": 8, "provenance": {}, "inputs": INPUTS}, ckpt)
    r = MeshReenactor(cfg, "relative", refiner=Refiner(ckpt))
    r.set_target(target)
    r.set_reference(target)
    assert r.drive(driving).astype(int).mean() > outs[0].astype(int).mean() + 5


def test_shipped_checkpoint_is_registered_small_and_loads() -> None:
    from petra import weights
    from petra.generators.mesh.refine.reenactor import Refiner
    from petra.generators.mesh.refine.shipped import shipped_path

    entry = weights.entry("mesh_ours_gen")
    assert entry.sha256 and len(entry.sha256) == 64
    path = shipped_path()  # sha256-checked
    assert path.stat().st_size <= 20 * 1024 * 1024
    r = Refiner(path)
    assert r.provenance.get("method") == "mesh-ours-gen"
    x = torch.zeros(1, 8, 64, 64)
    assert r.net(x).shape == (1, 3, 64, 64)


def test_the_refiner_gets_the_drivers_neutral_frame_in_relative_mode_and_none_in_absolute(sample_root: Path) -> None:
    from petra.generators.mesh.render.transfer import MeshConfig, Transfer
    from petra.media import read_image
    from petra.video import iter_frames

    target = read_image(sorted((sample_root / "images").glob("*.jpg"))[0])
    clip = sorted((sample_root / "videos").glob("*/*.mp4"))[0]
    frames = [f for _, f in iter_frames(clip, max_frames=24)]
    for mode in ("relative", "absolute"):
        seen: list = []

        def refiner(tgt, crop, out_mesh, driving, pts, reference):
            seen.append(reference)
            return crop

        tr = Transfer(target, MeshConfig.from_params(size=256, paste_back=False, mode=mode), video=True,
                      refiner=refiner)
        list(tr.run_clip(frames, 30.0))
        tr.close()
        assert len(seen) == len(frames)
        if mode == "absolute":
            assert all(r is None for r in seen)
            continue
        k = tr.neutral_index
        assert k is not None and all(r is seen[0] for r in seen)
        assert seen[0][0] is frames[k] and seen[0][1].shape == (478, 3)


def test_nearest_face_picks_the_frame_that_looks_like_the_neutral_face() -> None:
    from petra.geometry.driver import nearest_face, neutral_face
    from petra.geometry.motion import fit_face

    base = _face_points()
    lower = [87, 178, 88, 95, 85, 96, 77, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 61, 14]
    faces = []
    for k in range(9):
        p = base.copy()
        p[lower, 1] += 6.0 * ((k + 1) % 3)  # the mouth opens in two of every three frames (shut: 2, 5, 8)
        faces.append(fit_face(p))
    i = nearest_face(faces, neutral_face(faces))
    assert i % 3 == 2


def test_a_checkpoint_for_other_inputs_is_refused_and_selection_falls_back_to_the_shipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A net trained on the driver's regions themselves (before the region change) reads the change as
    garbage: such a file is refused by name, and a stale local selection is skipped with a warning."""
    from petra import config
    from petra.errors import PetraError
    from petra.generators.mesh.refine import reenactor
    from petra.generators.mesh.refine.net import RefineNet as Net
    from petra.generators.mesh.refine.shipped import export, read, shipped_path

    old = tmp_path / "old.pt"
    torch.save({"R": Net(8).state_dict(), "width": 8, "provenance": {}}, old)  # no record of its inputs
    with pytest.raises(PetraError, match="other net inputs"):
        reenactor.Refiner(old)
    monkeypatch.setattr("petra.train.select.selected_checkpoint", lambda cfg, method, allow_latest: old)
    path = reenactor.refiner_checkpoint(config.load(), "mesh-ours-gen")
    assert path == shipped_path() and "other net inputs" in capsys.readouterr().err
    # the shipped format round-trips its inputs, and the same weights export to the same bytes
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    export(shipped_path(), a, {"method": "mesh-ours-gen"})
    export(shipped_path(), b, {"method": "mesh-ours-gen"})
    assert read(a)["inputs"] == INPUTS and a.read_bytes() == b.read_bytes()
