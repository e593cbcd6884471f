"""The thesis repository's aligned_images/{1,4,5}.png and latents/{1,4,5}.pkl as a check of petra's ReStyle path.

``tests/fixtures/thesis_code/thesis_restyle_examples.json`` holds facts read from those files
(hashes, shapes, dtype, statistics; no images). What runs everywhere: the facts fit petra's
W+ layout and petra reads such pickles safely. With a checkout of the thesis repository
(``PETRA_THESIS_REPO``) the facts are re-read from the files; with the ReStyle-pSp FFHQ
weights as well, petra inverts the three images and must land on the released latents.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from petra.errors import InputError
from petra.latents.pickled import read_pickled_latent
from petra.generators.stylegan2.parts import n_latent

FACTS = json.loads((Path(__file__).parent / "fixtures" / "thesis_code" / "thesis_restyle_examples.json").read_text())
EXAMPLES = FACTS["examples"]


def thesis_repo() -> Path:
    root = os.environ.get("PETRA_THESIS_REPO")
    if not root:
        pytest.skip("PETRA_THESIS_REPO is not set (a checkout of JahodaPetr/Pose-and-Expression-Transfer at "
                    f"{FACTS['commit'][:7]}; or fetch the files from {FACTS['raw_url']})")
    root = Path(root)
    for ex in EXAMPLES.values():
        for part in ("image", "latent"):
            p = root / ex[part]["path"]
            if not p.is_file() or hashlib.sha256(p.read_bytes()).hexdigest() != ex[part]["sha256"]:
                pytest.skip(f"{p}: missing or not the file of commit {FACTS['commit'][:7]}")
    return root


def test_thesis_example_latents_have_petras_w_plus_layout():
    for name, ex in EXAMPLES.items():
        lat = ex["latent"]
        assert lat["shape"] == [n_latent(1024), 512] and lat["dtype"] == "float32", name  # = petra's stored W+
        assert lat["min"] < lat["mean"] < lat["max"] and len(lat["row_norms"]) == 18
        assert ex["image"]["size"] == [1024, 1024] and ex["image"]["mode"] == "RGB"  # aligned at 1024, as released
    # three different people: their codes are far apart relative to their size
    norm = min(np.linalg.norm(ex["latent"]["row_norms"]) for ex in EXAMPLES.values())
    assert min(FACTS["pairwise_l2"].values()) > 10 * FACTS["inversion_tolerance"]["relative_l2"] * norm


def test_thesis_pickled_latents_are_read_without_running_foreign_pickles(tmp_path):
    w = np.random.default_rng(0).normal(size=(18, 512)).astype(np.float32)
    good = tmp_path / "1.pkl"
    good.write_bytes(pickle.dumps(w, protocol=4))  # as the released tool.py writes them
    np.testing.assert_array_equal(read_pickled_latent(good), w)
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(os.system))  # a global outside numpy's array parts: refused, never called
    with pytest.raises(InputError, match="evil.pkl.*not a pickled numpy array"):
        read_pickled_latent(evil)
    flat = tmp_path / "flat.pkl"
    flat.write_bytes(pickle.dumps(np.zeros(512, np.float32), protocol=4))
    with pytest.raises(InputError, match=r"flat.pkl.*\[n, 512\]"):
        read_pickled_latent(flat)


def test_thesis_example_facts_match_the_files():
    from PIL import Image

    root = thesis_repo()
    for name, ex in EXAMPLES.items():
        w = read_pickled_latent(root / ex["latent"]["path"])
        lat = ex["latent"]
        assert list(w.shape) == lat["shape"] and str(w.dtype) == lat["dtype"]
        for stat in ("mean", "std", "min", "max"):
            assert float(getattr(w.astype(np.float64), stat)()) == pytest.approx(lat[stat], rel=1e-6), (name, stat)
        img = Image.open(root / ex["image"]["path"])
        assert list(img.size) == ex["image"]["size"] and img.mode == ex["image"]["mode"]


def test_thesis_restyle_inversion_reproduces_the_released_latents():
    import petra.config
    from petra import weights

    root = thesis_repo()
    cfg = petra.config.load(Path(__file__).resolve().parents[1] / "params.yaml", "sample")  # 1024, 5 ReStyle steps
    if not weights.present(cfg, "restyle_psp_ffhq"):
        pytest.skip(f"{weights.destination(cfg, 'restyle_psp_ffhq')} missing: `petra weights --fetch restyle_psp_ffhq`")
    from petra.generators.stylegan2.latents import ReStyleInverter
    from petra.media import read_image

    inv = ReStyleInverter(cfg, "psp")
    tol = FACTS["inversion_tolerance"]["relative_l2"]
    for name, ex in EXAMPLES.items():
        w_ref = read_pickled_latent(root / ex["latent"]["path"]).astype(np.float64)
        w = inv.invert_images([read_image(root / ex["image"]["path"])])[0].numpy().astype(np.float64)
        rel = float(np.linalg.norm(w - w_ref) / np.linalg.norm(w_ref))
        print(f"thesis example {name}: relative L2 {rel:.4g} (tolerance {tol})")
        assert rel <= tol, (name, rel)
