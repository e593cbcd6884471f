"""Runs anywhere: a wheel built from the repo, installed into a fresh venv, runs from any folder.

Also the params layering every `petra` command shares: packaged defaults, a user's
params.yaml merged over them, `--set section.key=value` last, unknown keys refused.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from petra import config
from petra.cli import main as petra_main
from petra.errors import PetraError


def test_defaults_load_without_any_params_file(tmp_path, monkeypatch, project_root):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PETRA_PARAMS", raising=False)
    assert config.load() == config.load(project_root / "params.yaml")


def test_a_users_params_file_is_merged_over_the_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PETRA_PARAMS", raising=False)
    (tmp_path / "params.yaml").write_text("mesh:\n  expression_scale: 1.5\nprofiles:\n  smoke:\n    mesh: {size: 512}\n")
    cfg = config.load()
    assert cfg["mesh"]["expression_scale"] == 1.5
    assert cfg["mesh"]["gaze"] is True and "train" in cfg  # the rest comes from the defaults
    smoke = config.load(profile="smoke")
    assert smoke["mesh"]["size"] == 512 and smoke["mesh"]["expression_scale"] == 1.5
    assert smoke["paths"]["data"] == config.defaults()["profiles"]["smoke"]["paths"]["data"]


def test_set_overrides_one_value_and_refuses_unknown_keys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = config.load(overrides=["mesh.size=512", "mesh.smoothing.method=none", "seed=3"])
    assert (cfg["mesh"]["size"], cfg["mesh"]["smoothing"]["method"], cfg["seed"]) == (512, "none", 3)
    with pytest.raises(PetraError, match=r"unknown key 'sise' in mesh"):
        config.load(overrides=["mesh.sise=512"])
    with pytest.raises(PetraError, match=r"mesh/size"):
        config.load(overrides=["mesh.size=300"])  # known key, value outside the schema's choices
    with pytest.raises(PetraError, match="expected section.key=value"):
        config.load(overrides=["mesh.size"])


def test_cli_set_reaches_the_stage_and_errors_are_one_line(tmp_path, capsys, sample_root):
    rc = petra_main(["transfer", "--target", str(sample_root / "images" / "EAMM_anne.jpg"),
                     "--driving", str(sample_root / "images" / "SadTalker_happy.jpg"),
                     "--out", str(tmp_path / "o.png"), "--set", "mesh.nope=1"])
    assert rc == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "mesh.nope" in err[0] and "'nope'" in err[0], err
    assert not (tmp_path / "o.png").exists()
    assert petra_main(["--set", "mesh.size=512", "transfer", "--target", str(sample_root / "images" / "EAMM_anne.jpg"),
                       "--driving", str(sample_root / "images" / "SadTalker_happy.jpg"),
                       "--out", str(tmp_path / "crop.png"), "--no-paste-back"]) == 0
    import cv2

    assert cv2.imread(str(tmp_path / "crop.png")).shape == (512, 512, 3)


def test_version_flag(capsys):
    from petra import __version__

    with pytest.raises(SystemExit) as ex:
        petra_main(["--version"])
    assert ex.value.code == 0 and capsys.readouterr().out.strip() == f"petra {__version__}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, project_root) -> Path:
    """`pip wheel .` on a copy of the repo's build inputs (the checkout itself is left untouched)."""
    src = tmp_path_factory.mktemp("wheel_src")
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "params.yaml"):
        shutil.copy(project_root / name, src / name)
    shutil.copytree(project_root / "workflow" / "schemas", src / "workflow" / "schemas")
    shutil.copytree(project_root / "src", src / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out)], check=True, timeout=300)
    (whl,) = out.glob("petra-*.whl")
    return whl


def test_the_wheel_ships_the_repos_defaults_and_schema(wheel, project_root):
    with zipfile.ZipFile(wheel) as z:
        assert z.read("petra/defaults/params.yaml") == (project_root / "params.yaml").read_bytes()
        assert z.read("petra/defaults/params.schema.yaml") == \
            (project_root / "workflow" / "schemas" / "params.schema.yaml").read_bytes()
        assert "petra/__main__.py" in z.namelist()


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_transfers_from_another_folder(wheel, tmp_path, sample_root):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    py, exe = venv / "bin" / "python", venv / "bin" / "petra"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PETRA_PARAMS", "PETRA_PROFILE")}
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
                   check=True, timeout=300, env=env, capture_output=True)
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), cwd=work, env=env, capture_output=True, text=True, timeout=300)

    where = run(str(py), "-c", "import petra, petra.config as c; print(petra.__file__); print(c.DEFAULT_PARAMS)")
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(venv)) for line in where.stdout.split()), where.stdout  # the wheel, not a checkout
    assert run(str(exe), "--version").stdout.startswith("petra ")
    clip = sample_root / "videos" / "id0002" / "LivePortrait_d1.mp4"
    target = sample_root / "images" / "EAMM_anne.jpg"
    res = run(str(exe), "transfer", "--target", str(target), "--driving", str(clip), "--out", "out.mp4",
              "--no-paste-back", "--set", "mesh.size=512")
    assert res.returncode == 0, res.stderr[-2000:]
    (work / "params.yaml").write_text(yaml.safe_dump({"mesh": {"size": 512, "paste_back": False}}))
    res = run(str(py), "-m", "petra", "transfer", "--target", str(target),
              "--driving", str(sample_root / "images" / "SadTalker_happy.jpg"), "--out", "still.png")
    assert res.returncode == 0, res.stderr[-2000:]
    import cv2

    from petra.video import probe

    assert probe(work / "out.mp4").size == (512, 512)
    assert cv2.imread(str(work / "still.png")).shape == (512, 512, 3)  # ./params.yaml was read
