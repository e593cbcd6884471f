"""petra's Python API: animate one portrait with a driver, frame by frame.

::

    from petra import Animator

    with Animator("me.jpg") as anim:          # the target: a path or an RGB uint8 array
        for frame in frames:                  # RGB uint8 driving frames (webcam, decoded video)
            out = anim.animate(frame)         # the target with the driver's pose, expression and gaze
        anim.recapture()                      # the next driving frame becomes the neutral reference

``petra live`` and ``petra app`` are built on it; ``petra transfer`` on a whole file uses
the same engine with a first pass over the clip (:func:`animate_file`).

The default method ``mesh`` is the real-time mesh engine
(:class:`petra.generators.mesh.render.transfer.Transfer`): relative mode by default (the
driver's change from its neutral face, measured from the first frame with a face or the
last :meth:`Animator.recapture`), the result pasted back into the full target photo. Any
``mesh-ours-gen`` is the same engine with its learned refinement after each render. Any
other registry method (a trained ``mesh-<variant>`` with a checkpoint, ``copy-driving``,
...) works on aligned crops of ``align.size`` and returns crops.
"""
from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from petra.errors import NoFaceError, PetraError
from petra.io import write_image
from petra.media import read_image
from petra.video import VideoWriter, iter_frames, probe

ENGINE = "mesh"  # the method name of the real-time engine


class FpsMeter:
    """Frames per second over the last ``window`` ticks (wall clock: what a viewer sees)."""

    def __init__(self, window: int = 30) -> None:
        self._t: collections.deque[float] = collections.deque(maxlen=window)

    def tick(self) -> float:
        self._t.append(time.perf_counter())
        return self.fps

    @property
    def fps(self) -> float:
        if len(self._t) < 2:
            return 0.0
        return (len(self._t) - 1) / max(self._t[-1] - self._t[0], 1e-9)


def _config(params: str | Path | Mapping[str, Any] | None, profile: str | None,
            overrides: Sequence[str]) -> dict[str, Any]:
    from petra import config

    if isinstance(params, Mapping):
        return config.apply_sets(params, overrides) if overrides else dict(params)
    return config.load(params, profile, overrides)


class Animator:
    """One target portrait, driven frame by frame by a webcam or a video (stateful).

    Args:
        target: the portrait, a file path or an RGB uint8 array [H, W, 3].
        method: ``"mesh"`` (the real-time engine) or a registry method name.
        mode: ``relative`` (the driver's motion from its neutral face, added to the
            target's) or ``absolute`` (the driver's expression replaces the target's);
            default params ``mesh.mode`` (auto: relative for a stream, absolute for images).
        size, expression_scale, smoothing ("one_euro" | "none"), paste_back: override the
            ``mesh:`` section of params for this animator.
        params: a resolved config mapping, or a params file merged over the defaults.
        overrides: ``section.key=value`` strings applied last.
        video: the driving frames are a stream (tracked and smoothed); False for unrelated images.

    Raises :class:`petra.errors.InputError` (one line naming the file) when the target is
    unreadable or has no face.
    """

    def __init__(self, target: str | Path | np.ndarray, *, method: str = ENGINE, mode: str | None = None,
                 size: int | None = None, expression_scale: float | None = None, smoothing: str | None = None,
                 paste_back: bool | None = None, params: str | Path | Mapping[str, Any] | None = None,
                 profile: str | None = None, overrides: Sequence[str] = (), video: bool = True) -> None:
        from petra.generators.mesh.render.transfer import MeshConfig, Transfer

        self.cfg = _config(params, profile, overrides)
        self.method = method
        path = "<target>" if isinstance(target, np.ndarray) else str(target)
        self.target = target if isinstance(target, np.ndarray) else read_image(target)
        self.mesh_cfg = MeshConfig.from_params(self.cfg, mode=mode, size=size, expression_scale=expression_scale,
                                               smoothing=smoothing, paste_back=paste_back)
        self.fps_meter = FpsMeter()
        self._t0: float | None = None
        self._recapture = False
        self.face_found = False  # did the last frame have a face?
        refiner = None
        if method != ENGINE:
            from petra.generators.mesh.refine.reenactor import engine_refiner  # lazy: torch

            refiner = engine_refiner(self.cfg, method)
        if method == ENGINE or refiner is not None:  # the engine, or the engine + its learned refinement
            self._engine: Any = Transfer(self.target, self.mesh_cfg, video=video, path=path, refiner=refiner)
            self._crops: _CropMethod | None = None
        else:
            self._engine = None
            self._crops = _CropMethod(method, self.cfg, self.target, path)

    # --- the frame loop -------------------------------------------------------------------
    def animate(self, frame: np.ndarray, t: float | None = None) -> np.ndarray:
        """The target with the pose and expression of ``frame`` (RGB uint8 [h, w, 3]).

        ``t``: the frame's time in seconds (a video's timestamps); default the wall clock,
        which is right for a webcam. Before the driver's face first shows, the target is
        returned unchanged; a face lost later holds the last pose.
        """
        now = time.perf_counter()
        self._t0 = now if self._t0 is None else self._t0
        t = now - self._t0 if t is None else t
        if self._crops is not None:
            out = self._crops.animate(frame, self._recapture)
            self.face_found = self._crops.face_found
        else:
            out = self._drive(frame, t)
        if self.face_found:
            self._recapture = False  # this frame was the new reference
        self.fps_meter.tick()
        return out

    __call__ = animate

    def _drive(self, frame: np.ndarray, t: float) -> np.ndarray:
        tr = self._engine
        try:
            pts = tr.landmarks(frame, t)
        except NoFaceError:  # no face yet in this stream
            self.face_found = False
            out = tr.still()
        else:
            self.face_found = pts is not None
            if self._recapture and pts is not None:
                tr.set_reference(frame, pts)
            out = tr.drive_points(frame, pts, t)
        return out.full if out.full is not None else out.crop

    def recapture(self) -> None:
        """Take the next driving frame with a face as the driver's neutral face (relative mode):
        what the driver does then maps to the target as it is in its photo."""
        self._recapture = True

    @property
    def fps(self) -> float:
        """Frames animated per second, over the last 30 calls."""
        return self.fps_meter.fps

    @property
    def mode(self) -> str:
        return self._engine.mode if self._engine is not None else "crops"

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
        if self._crops is not None:
            self._crops.close()

    def __enter__(self) -> "Animator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _CropMethod:
    """A registry method on aligned crops (:class:`petra.stages.transfer.CropReenactor` aligns
    and references): this tracks the driver's face (MediaPipe) and aligns the target once."""

    def __init__(self, method: str, cfg: Mapping[str, Any], target: np.ndarray, path: str) -> None:
        from petra import generators as registry
        from petra.geometry.facemesh import FaceMesh
        from petra.stages.transfer import CropReenactor

        m = registry.parse(method, cfg)
        checkpoint = None
        if m.trained:
            from petra.train.select import selected_checkpoint

            checkpoint = selected_checkpoint(cfg, method)
            if checkpoint is None:
                raise PetraError(f"method {method}: no trained checkpoint (run `petra train/select --method {method}`)")
        self.crops = CropReenactor(registry.create(m, cfg, checkpoint=checkpoint), int(cfg["align"]["size"]))
        self._tracker = FaceMesh(static=False)
        with FaceMesh(static=True) as fm:
            self.target = self.crops.align(target, fm.detect(target, path))
        self.crops.start(self.target)
        self.face_found = False

    def animate(self, frame: np.ndarray, recapture: bool) -> np.ndarray:
        try:
            pts = self._tracker.detect(frame)
        except NoFaceError:
            self.face_found = False
            return self.target.copy()
        self.face_found = True
        return self.crops.drive(frame, pts, recapture)

    def close(self) -> None:
        self._tracker.close()


def animate_file(target: str | Path, driving: str | Path, out: str | Path, *, method: str = ENGINE,
                 mode: str | None = None, size: int | None = None, expression_scale: float | None = None,
                 smoothing: str | None = None, paste_back: bool | None = None,
                 params: str | Path | Mapping[str, Any] | None = None, overrides: Sequence[str] = ()
                 ) -> dict[str, Any]:
    """Animate ``target`` with a driving image or video file into ``out`` (image or video).

    The engine reads a clip twice (its neutral face over the whole clip first: the best
    quality, exactly ``petra transfer``); another method streams it through an Animator.
    Returns a summary dict (frames, seconds, mode ...).
    """
    from petra.stages.transfer import run_transfer

    cfg = _config(params, None, overrides)
    if smoothing is not None:
        cfg = {**cfg, "mesh": {**cfg["mesh"], "smoothing": {**cfg["mesh"]["smoothing"], "method": smoothing}}}
    if method == ENGINE:
        return run_transfer(cfg, target, driving, out, mode=mode, size=size, paste_back=paste_back,
                            expression_scale=expression_scale)
    return _animate_file_by_frames(cfg, target, driving, out, method)


def _animate_file_by_frames(cfg: Mapping[str, Any], target: str | Path, driving: str | Path, out: str | Path,
                            method: str) -> dict[str, Any]:
    from tqdm import tqdm

    from petra.stages.transfer import _is_video

    t0 = time.perf_counter()
    driving, out = Path(driving), Path(out)
    with Animator(target, method=method, params=cfg) as anim:
        if not _is_video(driving):
            write_image(out, anim.animate(read_image(driving)))
            n = 1
        else:
            info = probe(driving)
            frames: Iterator[tuple[float, np.ndarray]] = iter_frames(driving)
            t_first, f_first = next(frames)
            first = anim.animate(f_first, t_first)
            with VideoWriter(out, info.fps or 25.0, (first.shape[1], first.shape[0]), audio_from=driving) as w:
                w.write(first)
                n = 1
                for t, f in tqdm(frames, desc=method, unit="frame", leave=False):
                    w.write(anim.animate(f, t))
                    n += 1
    return {"target": str(target), "driving": str(driving), "out": str(out), "method": method, "frames": n,
            "seconds": round(time.perf_counter() - t0, 2)}
