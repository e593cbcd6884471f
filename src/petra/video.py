"""The one ffmpeg wrapper (house rule 11): probe, stream frames, write videos.

There is no ffprobe here, so :func:`probe` parses ``ffmpeg -i`` stderr. Frames are
streamed from an ffmpeg pipe as RGB uint8 with their presentation timestamps (read
from the ``showinfo`` filter, so variable-frame-rate clips get true times), never
loading a whole video. ffmpeg applies rotation metadata itself when decoding.
Unreadable, corrupt or empty videos raise :class:`~petra.errors.InputError`; a video that
decodes only in part (ffmpeg reports errors, e.g. a damaged or truncated stream) gives a
warning with the decoded and expected frame counts, or an InputError with ``strict``.
"""
from __future__ import annotations

import math
import queue
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence

import numpy as np

from .errors import InputError, require_file
from petra.io import atomic_path


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg (no system ffmpeg needed)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class VideoInfo:
    """What ``ffmpeg -i`` tells about a file; ``size`` is (width, height) as displayed (after rotation)."""

    size: tuple[int, int]
    fps: float
    duration: float
    rotation: int
    has_audio: bool
    coded_size: tuple[int, int]


_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_VSTREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (.*)")
_SIZE = re.compile(r"(?<![0-9x])(\d{1,5})x(\d{1,5})(?![0-9x])")
_FPS = re.compile(r"([\d.]+)(k?) (?:fps|tbr)")
_ROT_MATRIX = re.compile(r"rotation of (-?[\d.]+) degrees")
_ROT_TAG = re.compile(r"^\s*rotate\s*:\s*(-?\d+)", re.M)


def parse_probe(stderr: str, path: str | Path = "<video>") -> VideoInfo:
    """Parse ``ffmpeg -i`` stderr into :class:`VideoInfo` (pure; unit-tested on text)."""
    m = _VSTREAM.search(stderr)
    if not m:
        raise InputError(path, "no video stream (corrupt or not a video)")
    desc = m.group(1)
    sm = _SIZE.search(desc)
    if not sm:
        raise InputError(path, "video stream without a frame size")
    w, h = int(sm.group(1)), int(sm.group(2))
    fps = 0.0
    fm = _FPS.search(desc)
    if fm:
        fps = float(fm.group(1)) * (1000.0 if fm.group(2) else 1.0)
    dm = _DURATION.search(stderr)
    duration = float("nan")
    if dm:
        duration = int(dm.group(1)) * 3600 + int(dm.group(2)) * 60 + float(dm.group(3))
    rot = 0
    rm = _ROT_MATRIX.search(stderr) or _ROT_TAG.search(stderr)
    if rm:
        # displaymatrix "rotation of -90 degrees" = the tag "rotate: 90" (clockwise display).
        rot = int(round(float(rm.group(1))))
        if rm.re is _ROT_MATRIX:
            rot = -rot
        rot %= 360
    shown = (h, w) if rot in (90, 270) else (w, h)
    has_audio = bool(re.search(r"Stream #\d+:\d+.*?: Audio:", stderr))
    return VideoInfo(size=shown, fps=fps, duration=duration, rotation=rot, has_audio=has_audio, coded_size=(w, h))


def probe(path: str | Path) -> VideoInfo:
    """Size (after rotation), fps, duration, rotation and audio presence of a video file."""
    path = Path(path)
    require_file(path, "a video")
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
                          capture_output=True, text=True, errors="replace", timeout=60)
    err = proc.stderr
    if "Invalid data found" in err or "moov atom not found" in err:
        raise InputError(path, "not a readable video (corrupt or truncated)")
    return parse_probe(err, path)


def scaled_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """(w, h) downscaled so that the longer side is at most ``max_side`` (aspect kept)."""
    w, h = size
    if not max_side or max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    return max(1, int(round(w * s))), max(1, int(round(h * s)))


_SHOWINFO = re.compile(r"\bn:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[\d.e+-]+)")
# ``-loglevel level+info`` tags each line: "[h264 @ 0x55..] [error] Invalid NAL unit size (0 > 1315)."
_ERROR_LINE = re.compile(r"^(?:\[(?P<who>[^\]@]+?)(?: @ 0x[0-9a-f]+)?\] )*\[(?:error|fatal|panic)\] (?P<msg>.*)$")


def _drain(stream: IO[bytes], out: "queue.Queue[float | None]", errors: list[str]) -> None:
    """Read ffmpeg stderr: showinfo timestamps into ``out``, error lines (whole) into ``errors``."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").strip()
        m = _SHOWINFO.search(line)
        if m:
            out.put(float(m.group(3)))
            continue
        e = _ERROR_LINE.match(line)
        if e:
            who = (e.group("who") or "").split(":")[-1].split("#")[0].strip()
            errors.append(f"{who}: {e.group('msg').strip()}" if who else e.group("msg").strip())
    out.put(None)


def error_summary(errors: Sequence[str]) -> str:
    """ffmpeg's first error, whole, and how many more there were (never cut mid-sentence)."""
    if not errors:
        return ""
    more = len(errors) - 1
    return errors[0].rstrip(".") + (f"; and {more} more error{'s' if more > 1 else ''}" if more else "")


def expected_frames(info: VideoInfo, interval_s: float | None = None, max_frames: int | None = None) -> int | None:
    """Frames a clean decode of ``info`` yields (every frame, or one per interval), or None if unknown."""
    if not (info.duration == info.duration and info.duration > 0 and info.fps > 0):  # nan or missing
        return None
    n = max(1, int(round(info.duration * info.fps)))
    if interval_s:
        last = (n - 1) / info.fps
        n = int(math.floor(last / interval_s + 1e-6)) + 1
    return min(n, int(max_frames)) if max_frames else n


def warn(message: str) -> None:
    """The one-line warning a user sees on stderr."""
    print(f"petra: warning: {message}", file=sys.stderr, flush=True)


def iter_frames(path: str | Path, max_side: int | None = None, interval_s: float | None = None,
                max_frames: int | None = None, strict: bool = False,
                on_partial: Callable[[str], None] | None = warn) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(time_s, rgb_uint8)`` frames decoded by ffmpeg, streaming.

    ``interval_s`` keeps the first frame and then each frame at least that long after
    the last kept one (so a clip shorter than the interval still yields its first
    frame); ``max_side`` downscales large (e.g. 4K) frames during decoding. When ffmpeg
    reports decoding errors, the video is partly undecodable: after the last frame
    ``on_partial`` gets "<path>: partly undecodable: decoded N of ~M expected frames
    (<ffmpeg's error>)", or with ``strict`` that is raised as an InputError.
    """
    import ffmpeg

    path = Path(path)
    info = probe(path)
    w, h = scaled_size(info.size, max_side)
    stream = ffmpeg.input(str(path))
    stream = stream.video
    if interval_s:
        # first frame at or after each multiple of the interval (no drift at any fps)
        i = f"{interval_s:.6f}"
        stream = stream.filter("select", f"isnan(prev_selected_t)+gt(floor((t+1e-3)/{i}),floor((prev_selected_t+1e-3)/{i}))")
    if (w, h) != info.size:
        stream = stream.filter("scale", w, h, flags="area")
    stream = stream.filter("showinfo")
    out_kwargs = {"format": "rawvideo", "pix_fmt": "rgb24", "fps_mode": "passthrough"}
    if max_frames:
        out_kwargs["frames:v"] = int(max_frames)
    cmd = (stream.output("pipe:", **out_kwargs)
           .global_args("-hide_banner", "-nostdin", "-loglevel", "level+info")
           .compile(cmd=ffmpeg_exe()))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    times: "queue.Queue[float | None]" = queue.Queue()
    errors: list[str] = []
    reader = threading.Thread(target=_drain, args=(proc.stderr, times, errors), daemon=True)
    reader.start()
    nbytes = w * h * 3
    n = 0
    finished = False
    try:
        while True:
            buf = proc.stdout.read(nbytes)  # type: ignore[union-attr]
            if len(buf) < nbytes:
                finished = True
                break
            t = times.get(timeout=60)
            if t is None:  # stderr closed before the timestamp: fall back to frame rate
                t = n / info.fps if info.fps else float(n)
            frame = np.frombuffer(buf, np.uint8).reshape(h, w, 3)
            n += 1
            yield float(t), frame
    finally:
        if proc.poll() is None:
            proc.kill()
        rc = proc.wait()
        reader.join(timeout=5)
    if n == 0:
        raise InputError(path, f"no decodable video frames ({error_summary(errors) or 'empty stream'})")
    if finished and (errors or rc != 0):
        expected = expected_frames(info, interval_s, max_frames)
        of = f" of ~{expected} expected" if expected else ""
        why = error_summary(errors) or f"ffmpeg exit status {rc}"
        message = f"partly undecodable: decoded {n}{of} frames ({why})"
        if strict:
            raise InputError(path, message)
        if on_partial is not None:
            on_partial(f"{path}: {message}")


class VideoWriter:
    """Context manager that pipes RGB uint8 frames to ffmpeg (H.264, yuv420p).

    Odd sizes are padded to even (yuv420p needs it). The file is written under a
    temporary name and renamed on a clean exit; with ``audio_from`` the audio track of
    that file (when it has one) is muxed in, cut to the video's length.
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int],
                 audio_from: str | Path | None = None, crf: int = 18) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self.size = (int(size[0]), int(size[1]))
        self.audio_from = Path(audio_from) if audio_from else None
        self.crf = crf
        self._proc: subprocess.Popen[bytes] | None = None
        self._ctx = None
        self.frames = 0

    def _command(self, tmp: Path) -> list[str]:
        w, h = self.size
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{self.fps:g}", "-i", "pipe:0"]
        use_audio = self.audio_from is not None and probe(self.audio_from).has_audio
        if use_audio:
            cmd += ["-i", str(self.audio_from), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-shortest"]
        cmd += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast",
                "-crf", str(self.crf), "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(tmp)]
        return cmd

    def __enter__(self) -> "VideoWriter":

        self._ctx = atomic_path(self.path)
        tmp = self._ctx.__enter__()
        self._proc = subprocess.Popen(self._command(tmp), stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        return self

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 frame of exactly ``size`` (w, h)."""
        w, h = self.size
        if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame must be uint8 {(h, w, 3)}, got {frame.dtype} {frame.shape}")
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(np.ascontiguousarray(frame).tobytes())
        self.frames += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._proc is not None and self._ctx is not None
        proc = self._proc
        try:
            proc.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        rc = proc.wait()
        if exc_type is None and (rc != 0 or self.frames == 0):
            exc = OSError(f"{self.path}: ffmpeg failed ({'no frames' if self.frames == 0 else err.strip()[-300:]})")
            self._ctx.__exit__(type(exc), exc, None)
            raise exc
        self._ctx.__exit__(exc_type, exc, tb)


def write_video(path: str | Path, frames: Sequence[np.ndarray], fps: float,
                audio_from: str | Path | None = None) -> None:
    """Write a list of equally sized RGB uint8 frames as an H.264 mp4."""
    h, w = frames[0].shape[:2]
    with VideoWriter(path, fps, (w, h), audio_from=audio_from) as vw:
        for f in frames:
            vw.write(f)
