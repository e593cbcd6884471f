"""petra.video: probe, streaming decode (rotation, VFR, odd sizes, short clips, 4K), writer."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from petra import video
from petra.errors import InputError


def ffmpeg(*args: str) -> None:
    subprocess.run([video.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_clip(path: Path, size: str = "320x240", rate: str = "25", duration: str = "1.2",
              pix_fmt: str = "yuv420p") -> Path:
    w, h = size.split("x")
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={duration}",
           "-vf", f"scale={w}:{h}", "-c:v", "libx264", "-pix_fmt", pix_fmt, str(path))
    return path


PROBE_TEXT = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x.mp4':
  Duration: 00:01:02.50, start: 0.000000, bitrate: 276 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 1920x1080 [SAR 1:1 DAR 16:9], 271 kb/s, 29.97 fps, 29.97 tbr, 12800 tbn (default)
      Side data:
        displaymatrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 128 kb/s (default)
"""


def test_parse_probe_reads_size_fps_duration_rotation_audio():
    info = video.parse_probe(PROBE_TEXT)
    assert info.coded_size == (1920, 1080)
    assert info.size == (1080, 1920)  # a 90° rotation swaps the displayed size
    assert info.rotation == 90
    assert info.fps == pytest.approx(29.97)
    assert info.duration == pytest.approx(62.5)
    assert info.has_audio


def test_frames_every_half_second_with_true_timestamps(tmp_path):
    clip = make_clip(tmp_path / "a.mp4", rate="25", duration="2.1")
    got = list(video.iter_frames(clip, interval_s=0.5))
    times = [t for t, _ in got]
    assert times == pytest.approx([0.0, 0.52, 1.0, 1.52, 2.0], abs=1e-3)
    assert all(f.shape == (240, 320, 3) and f.dtype == np.uint8 for _, f in got)
    assert len(list(video.iter_frames(clip, interval_s=0.5, max_frames=2))) == 2


def test_variable_frame_rate_uses_presentation_times(tmp_path):
    # 10 fps for the first second, then one frame every 0.5 s
    vfr = tmp_path / "vfr.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10:duration=2",
           "-vf", "setpts='if(lt(N,10),N*0.1,1+(N-10)*0.5)/TB'", "-fps_mode", "vfr",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", str(vfr))
    times = [t for t, _ in video.iter_frames(vfr)]
    assert times == pytest.approx([0.1 * k for k in range(10)] + [1.0 + 0.5 * k for k in range(10)], abs=1e-3)
    sampled = [t for t, _ in video.iter_frames(vfr, interval_s=0.5)]
    assert sampled == pytest.approx([0.5 * k for k in range(12)], abs=1e-3)


def test_rotation_metadata_is_applied(tmp_path):
    src = make_clip(tmp_path / "a.mp4", size="320x240")
    rot = tmp_path / "rot.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(src), "-c", "copy", str(rot))
    info = video.probe(rot)
    assert info.coded_size == (320, 240) and info.size == (240, 320)
    _t, frame = next(iter(video.iter_frames(rot)))
    assert frame.shape == (320, 240, 3)
    upright = next(iter(video.iter_frames(src)))[1]
    # the decoded frame is the stored one turned by 90° (one direction or the other)
    diffs = [np.abs(np.rot90(upright, k).astype(int) - frame).mean() for k in (1, 3)]
    assert min(diffs) < 12


def test_odd_size_short_clip_and_4k_downscale(tmp_path):
    odd = make_clip(tmp_path / "odd.mp4", size="321x243", duration="0.3", pix_fmt="yuv444p")
    frames = list(video.iter_frames(odd, interval_s=0.5))
    assert len(frames) == 1 and frames[0][0] == 0.0  # shorter than 0.5 s: still the first frame
    assert frames[0][1].shape == (243, 321, 3)
    big = make_clip(tmp_path / "4k.mp4", size="3840x2160", rate="2", duration="0.5")
    _t, f = next(iter(video.iter_frames(big, max_side=1024)))
    assert f.shape == (576, 1024, 3)


@pytest.mark.parametrize("kind", ["empty", "text", "truncated", "missing"])
def test_unreadable_videos_raise_input_error(tmp_path, kind):
    p = tmp_path / f"bad {kind} é.mp4"
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "text":
        p.write_text("this is not a video\n" * 50)
    elif kind == "truncated":
        good = make_clip(tmp_path / "g.mp4", duration="2")
        p.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(InputError) as err:
        list(video.iter_frames(p))
    assert str(p) in str(err.value)


def test_video_writer_even_size_and_audio_mux(tmp_path):
    with_audio = tmp_path / "audio.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10:duration=2", "-f", "lavfi", "-i",
           "sine=frequency=440:duration=2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-shortest", str(with_audio))
    assert video.probe(with_audio).has_audio
    frames = [np.full((51, 67, 3), 20 * i, np.uint8) for i in range(10)]
    out = tmp_path / "out dir" / "o.mp4"
    with video.VideoWriter(out, 10, (67, 51), audio_from=with_audio) as vw:
        for f in frames:
            vw.write(f)
    info = video.probe(out)
    assert info.size == (68, 52) and info.has_audio and info.fps == pytest.approx(10)
    back = [f for _, f in video.iter_frames(out)]
    assert len(back) == 10
    assert abs(float(back[5][:51, :67].mean()) - 100) < 3
    assert not any(p.name.startswith(".") for p in out.parent.iterdir())  # no temp left
    silent = tmp_path / "silent.mp4"  # audio_from a clip without audio: no audio track, no error
    video.write_video(silent, frames, 10, audio_from=make_clip(tmp_path / "mute.mp4"))
    assert not video.probe(silent).has_audio
