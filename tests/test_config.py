"""params.yaml resolution and validation."""
from __future__ import annotations

import pytest
import yaml

from petra import config
from petra.errors import PetraError


def test_profiles_resolve_over_defaults(project_root):
    smoke = config.load(project_root / "params.yaml", "smoke")
    sample = config.load(project_root / "params.yaml", "sample")
    assert smoke["profile"] == "smoke" and sample["profile"] == "sample"
    assert smoke["paths"]["data"] != sample["paths"]["data"]
    # untouched keys of a partly overridden section survive the merge
    assert smoke["frames"]["interval_s"] == sample["frames"]["interval_s"]
    assert "profiles" not in smoke


def test_invalid_params_give_one_line_naming_the_key(project_root, tmp_path):
    raw = yaml.safe_load((project_root / "params.yaml").read_text())
    raw["frames"]["interval_s"] = -1
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(PetraError, match=r"frames/interval_s"):
        config.load(bad)


def test_unknown_profile_is_refused(project_root):
    with pytest.raises(PetraError, match="unknown profile"):
        config.load(project_root / "params.yaml", "nope")
