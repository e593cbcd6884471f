"""Interruption is safe: SIGTERM/SIGINT clean up, SIGKILL leftovers are removed by the next run,
a checkpoint and its sha256 never disagree, parallel MLflow writers do not fail."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from reliability_helpers import encode, snapshot, temporaries

IMG_T = "EAMM_anne.jpg"


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory, sample_root) -> Path:
    d = tmp_path_factory.mktemp("clip")
    return encode(sample_root / "videos" / "id0070" / "LIA_obama.mp4", d / "talk.mp4", "scale=256:256", duration="10")


def _start(work: Path, target: Path, clip: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(["petra", "transfer", "--target", str(target), "--driving", str(clip), "--out", str(out),
                             "--no-paste-back"], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_temporary(proc: subprocess.Popen, work: Path, timeout: float = 240) -> list[Path]:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        tmp = temporaries(work)
        if tmp:
            time.sleep(0.3)  # a few frames into the file
            return tmp
        time.sleep(0.05)
    raise AssertionError("the transfer never started writing")


@pytest.mark.parametrize("sig, rc, said", [(signal.SIGTERM, 143, "stopped by SIGTERM"), (signal.SIGINT, 130, "interrupted")])
def test_sigterm_and_sigint_clean_up_and_exit_128_plus_signal(tmp_path, sample_root, long_clip, sig, rc, said):
    import shutil

    target = tmp_path / IMG_T
    shutil.copy(sample_root / "images" / IMG_T, target)
    before = snapshot(tmp_path)
    proc = _start(tmp_path, target, long_clip, tmp_path / "out.mp4")
    _wait_for_temporary(proc, tmp_path)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == rc, err
    assert f"petra transfer: {said}" in err and "Traceback" not in err
    assert not temporaries(tmp_path) and not (tmp_path / "out.mp4").exists()
    assert snapshot(tmp_path) == before


def test_sigkill_leftover_is_removed_by_the_next_run_but_a_live_writers_is_not(tmp_path, sample_root, long_clip):
    import shutil

    target = tmp_path / IMG_T
    shutil.copy(sample_root / "images" / IMG_T, target)
    out = tmp_path / "out.mp4"
    proc = _start(tmp_path, target, long_clip, out)
    left = _wait_for_temporary(proc, tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    assert temporaries(tmp_path) == left  # what SIGKILL leaves: a hidden 0600 file in the user's folder
    live = tmp_path / f".out.mp4.petra-{os.getpid()}-abcdefgh.tmp.mp4"  # a running writer's (this process)
    live.write_bytes(b"in progress")
    other = tmp_path / ".notes.txt.tmp"  # not petra's naming: never touched
    other.write_bytes(b"mine")
    res = subprocess.run(["petra", "transfer", "--target", str(target), "--driving", str(long_clip), "--out", str(out),
                          "--no-paste-back"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "removed 1 temporary file(s) an interrupted run left" in res.stderr
    assert sorted(temporaries(tmp_path)) == sorted([live, other]) and out.is_file()


@pytest.mark.parametrize("crash_at", range(4))
def test_a_kill_while_a_checkpoint_is_rewritten_never_leaves_it_unloadable(tmp_path, crash_at):
    """The writer dies (os._exit, as under SIGKILL) after each of the steps of rewriting a checkpoint."""
    import torch

    from petra.train.checkpoint import load_checkpoint, save_checkpoint

    path = tmp_path / "checkpoints" / "ckpt-00000002.pt"
    save_checkpoint(path, {"E_m": {"w": torch.zeros(3)}}, {"a": 1}, 2, optimizer={"state": {}})
    ctx = mp.get_context("fork")
    child = ctx.Process(target=_rewrite_and_die, args=(path, crash_at))
    child.start()
    child.join(60)
    assert child.exitcode == 17, "the writer did not reach its crash point"
    obj = load_checkpoint(path)  # old or new, never "sha256 mismatch"
    assert obj["step"] == 2 and float(obj["parts"]["E_m"]["w"][0]) in (0.0, 1.0)
    assert not temporaries(tmp_path) or all(".petra-" in p.name for p in temporaries(tmp_path))


def _rewrite_and_die(path: Path, crash_at: int) -> None:
    """Rewrite the checkpoint (new weights) and os._exit(17) at the ``crash_at``-th file operation."""
    import torch

    import petra.io as pio
    from petra.train.checkpoint import save_checkpoint

    calls = {"n": 0}

    def dying(real):
        def op(*args, **kwargs):
            if calls["n"] == crash_at:
                os._exit(17)
            calls["n"] += 1
            return real(*args, **kwargs)
        return op

    pio.os.replace = dying(os.replace)  # every rename of the rewrite: sidecar, checkpoint, sidecar
    save_checkpoint(path, {"E_m": {"w": torch.ones(3)}}, {"a": 1}, 2, optimizer=None)
    os._exit(17)


def _log_one(args: tuple[str, int]) -> str:
    uri, k = args
    os.environ["MLFLOW_TRACKING_URI"] = uri
    from petra.tracking import log_run

    try:
        return log_run("petra-race", f"run-{k}", params={"k": k}, metrics={"m": float(k)}, root=Path(uri[10:]).parent)
    except Exception as err:  # noqa: BLE001 - the test counts failures
        return f"FAILED {type(err).__name__}: {err}"


def test_parallel_mlflow_runs_on_a_fresh_database_all_succeed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with mp.get_context("spawn").Pool(4) as pool:
        ids = pool.map(_log_one, [(uri, k) for k in range(4)])
    assert not [i for i in ids if i.startswith("FAILED")], ids
    import mlflow

    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["petra-race"])
    assert sorted(runs["metrics.m"]) == [0.0, 1.0, 2.0, 3.0]
