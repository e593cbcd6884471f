"""Landmark smoothing of a whole driving clip: jitter goes, blinks and lip snaps stay deep."""
from __future__ import annotations

import numpy as np

from petra.generators.mesh.render.filters import OneEuroFilter, StreamRestorer, smooth_clip
from petra.geometry.canonical import IRIS_LEFT, IRIS_RIGHT, canonical_face
from petra.geometry.motion import _lids

FPS = 30.0


def _face() -> np.ndarray:
    """A still frontal face [478, 3] in pixels (canonical mesh, eye corners ~96 px apart, a 10 px eye opening)."""
    cf = canonical_face()
    v = cf.vertices * 15.0
    pts = np.zeros((478, 3))
    pts[:468] = np.c_[128 + v[:, 0], 128 - v[:, 1], -v[:, 2]]
    for iris, loop in ((IRIS_RIGHT, cf.loops["eye_right"]), (IRIS_LEFT, cf.loops["eye_left"])):
        pts[iris] = pts[loop].mean(0)
    return pts


def _gap(p: np.ndarray) -> float:
    up, lo = _lids()
    return float(np.median(p[lo, 1] - p[up, 1]))  # image y grows downward: lower lid below upper


def _clip(blink_at: int, n: int = 60, noise: float = 0.3, seed: int = 0) -> tuple[list[np.ndarray], list[float]]:
    """A still face with landmark jitter (``noise`` px per coordinate) and a slow head drift,
    whose upper lids drop onto the lower lids for 3 frames from ``blink_at`` (a full blink)."""
    rng = np.random.default_rng(seed)
    base = _face()
    up, lo = _lids()
    frames = []
    for k in range(n):
        p = base.copy()
        p[:, 0] += 2.0 * np.sin(k / n * np.pi)  # slow drift: the head moves, the lids with it
        depth = {blink_at: 0.8, blink_at + 1: 1.0, blink_at + 2: 0.7}.get(k, 0.0)
        p[up, 1] += depth * (base[lo, 1] - base[up, 1])
        p[:, :2] += rng.normal(0.0, noise, (478, 2))
        frames.append(p)
    return frames, [k / FPS for k in range(n)]


def test_a_full_blink_stays_closed_after_smoothing_while_jitter_goes():
    frames, times = _clip(blink_at=30)
    smooth = smooth_clip(frames, times, min_cutoff=1.0, beta=5.0)
    open_gap = _gap(_face())
    raw_deep = _gap(frames[31])
    sm_deep = min(_gap(smooth[k]) for k in range(29, 34))
    # the lids meet: the smoothed blink is as deep as the raw one (plain zero-phase smoothing
    # left it ~35 % open: the target's eyes never closed)
    assert sm_deep - raw_deep < 0.05 * open_gap, (raw_deep, sm_deep, open_gap)
    plain = smooth_clip(frames, times, min_cutoff=1.0, beta=5.0, restore=False)
    assert min(_gap(plain[k]) for k in range(29, 34)) - raw_deep > 0.15 * open_gap  # what was lost
    # jitter of the still frames is still smoothed away (lid gap and the eye's position)
    still = range(5, 25)
    up, _ = _lids()
    for series in (lambda p: _gap(p), lambda p: float(p[up, 1].mean())):
        raw_j = np.std(np.diff([series(frames[k]) for k in still], 2))
        sm_j = np.std(np.diff([series(smooth[k]) for k in still], 2))
        assert sm_j < 0.5 * raw_j, (raw_j, sm_j)


def test_restoring_leaves_a_clip_without_fast_motion_as_smoothed():
    frames, times = _clip(blink_at=10_000)  # no blink: only jitter and drift
    plain = smooth_clip(frames, times, restore=False)
    restored = smooth_clip(frames, times)
    # one opening per eye / mouth decides, never a single vertex's noise peak: nothing moves
    assert np.abs(np.stack(restored) - np.stack(plain)).max() < 0.05


def _live(frames: list[np.ndarray], times: list[float], restore: bool) -> list[np.ndarray]:
    """The live path: the causal One-Euro filter frame by frame (+ the stream restorer)."""
    filt, keep = OneEuroFilter(1.0, 5.0, 1.0), StreamRestorer()
    out = []
    for p, t in zip(frames, times):
        scale = float(np.linalg.norm(p[33, :2] - p[263, :2]))
        sm = filt(p, t, scale)
        out.append(keep(p, sm, scale) if restore else sm)
    return out


def test_a_live_stream_gets_its_blinks_on_time_and_whole():
    frames, times = _clip(blink_at=40)
    open_gap, raw_deep = _gap(_face()), _gap(frames[41])
    live, plain = _live(frames, times, True), _live(frames, times, False)
    # the causal filter alone delivers the blink shallow (and late); restored, the lids meet on
    # the frame the driver's do
    assert _gap(plain[41]) - raw_deep > 0.2 * open_gap
    assert _gap(live[41]) - raw_deep < 0.05 * open_gap, (_gap(live[41]), raw_deep)
    still = np.stack(_live(*_clip(blink_at=10_000), True))
    assert np.abs(still - np.stack(_live(*_clip(blink_at=10_000), False))).max() < 0.05  # no blink: untouched
