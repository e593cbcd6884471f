"""StyleGAN2 random identities: a seed gives one face; pose and expression come from driving frames."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from sg2_smoke_helpers import face_like, smoke_cfg

from petra.errors import PetraError

torch.set_num_threads(1)


def test_seed_fixes_the_identity_and_driving_frames_move_it(tmp_path_factory):
    from petra.generators.stylegan2.synth import random_identity

    cfg = smoke_cfg(tmp_path_factory, ("generator", "restyle_psp"))
    cfg = {**cfg, "align": {**cfg["align"], "size": 64}}
    a, b, c = random_identity(cfg, 7), random_identity(cfg, 7), random_identity(cfg, 8)
    assert a.image.shape == (64, 64, 3)
    assert np.array_equal(a.image, b.image) and not np.array_equal(a.image, c.image)
    with pytest.raises(PetraError, match="driving"):
        a.render(yaw=20)
    frames = [face_like(64, 1, mouth=0.1), face_like(64, 2, mouth=0.6)]
    out = a.drive(frames, method="sg2-baseline-psp")
    assert len(out) == 2 and out[0].shape == (64, 64, 3)
    assert not np.array_equal(out[0], out[1])  # the second frame's offset from the first changes the face
