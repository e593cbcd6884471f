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


def test_defaults_and_schema_are_read_again_when_their_files_change(project_root, tmp_path, monkeypatch):
    """load() caches the parsed defaults and schema; an edited file is seen on the next load."""
    params, schema = tmp_path / "params.yaml", tmp_path / "params.schema.yaml"
    params.write_text((project_root / "params.yaml").read_text())
    schema.write_text((project_root / "workflow" / "schemas" / "params.schema.yaml").read_text())
    monkeypatch.setattr(config, "DEFAULT_PARAMS", params)
    monkeypatch.setattr(config, "SCHEMA_PATH", schema)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PETRA_PARAMS", raising=False)
    assert config.load()["frames"]["interval_s"] == 0.5
    params.write_text(params.read_text().replace("interval_s: 0.5", "interval_s: 0.25"))
    assert config.load()["frames"]["interval_s"] == 0.25
    schema.write_text(schema.read_text().replace("interval_s: {type: number, exclusiveMinimum: 0}",
                                                 "interval_s: {type: number, exclusiveMinimum: 0.3}"))
    with pytest.raises(PetraError, match=r"frames/interval_s"):
        config.load()
