"""petra's ``released`` sampling follows the thesis's released ImagesDataset (tests/fixtures/thesis_code/thesis_sampling.json).

The fixture comes from running the released ``training/images_dataset.py`` on a small frame
tree (README there). The validation pairing is deterministic and must match exactly; the
training draws are random (np.random in the released code, (seed, step) in petra), so their
rates must agree within sampling error.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from petra.train.sampler import PairSampler

FIX = json.loads((Path(__file__).parent / "fixtures" / "thesis_code" / "thesis_sampling.json").read_text())


def manifest(split: str) -> pd.DataFrame:
    """The fixture's frame tree as manifest rows (identity = the released 'folder', path[-3])."""
    rows = []
    for ident, vids in FIX["tree"].items():
        for video, n in vids.items():
            for f in range(n):
                rows.append({"identity": ident, "video": f"{ident}/{video}", "time_s": 0.5 * f, "split": split,
                             "aligned_path": f"aligned/{ident}/{video}/{f:05d}.png"})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # manifest order must not matter


def test_thesis_validation_pairs_frame_i_with_i_plus_10_in_sorted_path_order():
    s = PairSampler(manifest("val"), "val", batch_size=3, seed=0, mode="released")
    paths = [s.df.loc[i, "aligned_path"] for k in range(s.n_batches) for i in s.indices(k)["s_A"]]
    r = [s.df.loc[i, "aligned_path"] for k in range(s.n_batches) for i in s.indices(k)["s_R"]]
    expected = ["aligned/" + p for p in FIX["source_paths"]]
    assert paths == expected
    assert r == [expected[j] for _, _, j in FIX["val_pairs"]]
    t = [s.df.loc[i, "identity"] for k in range(s.n_batches) for i in s.indices(k)["t_R"]]
    assert t == [p.split("/")[1] for p in r]  # E_i(t_R) from R's own folder, as released


def test_thesis_training_draws_match_the_released_rates():
    s = PairSampler(manifest("train"), "train", batch_size=4, seed=0, mode="released")
    n = len(FIX["source_paths"])
    steps = FIX["train_draws"] // 4
    a_all, r_all, same_id, same_frame, pool_hits = [], [], 0, 0, {}
    for k in range(steps):
        idx = s.indices(k)
        for a, ta, r, tr in zip(idx["s_A"], idx["t_A"], idx["s_R"], idx["t_R"]):
            ia, ir = s.df.loc[a, "identity"], s.df.loc[r, "identity"]
            assert s.df.loc[ta, "identity"] == ia and s.df.loc[tr, "identity"] == ir
            same_id += ia == ir
            same_frame += a == r
            a_all.append(a)
            r_all.append(r)
            if ia == "id00200":  # 12 frames: its pool is 10 of them, drawn uniformly
                pool_hits[ta] = pool_hits.get(ta, 0) + 1
    draws = steps * 4
    rates = FIX["train_rates"]
    for got, ref in ((same_id / draws, rates["R_same_identity_as_A"]), (same_frame / draws, rates["R_is_the_A_frame"])):
        sigma = np.sqrt(ref * (1 - ref) / draws) * np.sqrt(2)  # two independent estimates
        assert abs(got - ref) < 5 * sigma, (got, ref)
    # every frame once per epoch as A (the released DataLoader shuffles without replacement)
    assert all(sorted(a_all[e * n:(e + 1) * n]) == sorted(range(n)) for e in range(3))
    assert np.bincount(r_all, minlength=n).min() > 0.5 * draws / n  # R: any frame
    hist = np.array(list(pool_hits.values()))
    ref_hist = np.array(FIX["train_latent_index_histogram"])
    assert len(hist) == len(ref_hist) == 10
    assert hist.std() / hist.mean() < 0.2 and ref_hist.std() / ref_hist.mean() < 0.2  # both uniform over 10 codes
