"""`petra live`: the real-time loop, recorded without a display; its one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from petra.cli import main as petra_main


@pytest.fixture(scope="module")
def target(sample_root):
    return sample_root / "images" / "EAMM_anne.jpg"


def test_no_window_records_every_driving_frame(tmp_path, target, sample_root, capsys):
    from petra.media import read_image
    from petra.video import iter_frames, probe

    clip = sample_root / "videos" / "id0035" / "V-Express_RD_Radio10_0_clip_0.mp4"
    out = tmp_path / "rec.mp4"
    assert petra_main(["live", "--target", str(target), "--driving", str(clip), "--out", str(out),
                       "--no-window"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    src, rec = probe(clip), probe(out)
    n_src = sum(1 for _ in iter_frames(clip))
    assert summary["frames"] == summary["frames_with_face"] == n_src and summary["fps"] > 0
    assert abs(rec.fps - src.fps) < 0.5 and abs(rec.duration - src.duration) < 0.15
    timg = read_image(target)
    assert rec.size == (timg.shape[1], timg.shape[0])  # the full photo, pasted back
    frames = [f for _, f in iter_frames(out)]
    diffs = [float(np.abs(f.astype(int) - timg).mean()) for f in frames]
    assert diffs[0] < 4.0  # H.264 noise only: the first face is the neutral reference
    assert max(diffs) > diffs[0] + 2.0  # the portrait moves with the driver


def test_a_missing_camera_is_one_line(target, capsys):
    assert petra_main(["live", "--target", str(target), "--camera", "7", "--no-window", "--max-frames", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["petra live: error: camera 7: cannot open the webcam (no such device, or it is busy)"]


def test_a_window_without_a_display_is_refused_before_work(target, sample_root, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    clip = sample_root / "videos" / "id0002" / "LivePortrait_d1.mp4"
    assert petra_main(["live", "--target", str(target), "--driving", str(clip)]) == 2
    assert "use --no-window" in capsys.readouterr().err


def test_side_by_side_view_writes_the_fps():
    from petra.app.live import side_by_side

    driver = np.zeros((480, 640, 3), np.uint8)
    result = np.zeros((256, 256, 3), np.uint8)
    view = side_by_side(driver, result, 23.4)
    assert view.shape == (256, 256 + round(640 * 256 / 480), 3)
    assert view[:40].max() > 200 and view[60:].max() == 0  # the overlay text, at the top only
