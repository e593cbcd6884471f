"""What the web app does, without the web: file transfers and live webcam sessions.

Kept free of Gradio so it is tested directly; :mod:`petra.app.ui` only wires components
to these functions. Every user mistake becomes a :class:`petra.errors.PetraError` whose
text is one line naming the file and the reason.
"""
from __future__ import annotations

import collections
import tempfile
import threading
import time
import typing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from petra.api import ENGINE, Animator, animate_file
from petra.config import build
from petra.errors import InputError, PetraError
from petra.params import Mesh, MeshSmoothing

MODES: tuple[str, ...] = typing.get_args(typing.get_type_hints(Mesh)["mode"])  # the schema's choices
SMOOTHING: tuple[str, ...] = typing.get_args(typing.get_type_hints(MeshSmoothing)["method"])
SIZES: tuple[int, ...] = typing.get_args(typing.get_type_hints(Mesh)["size"])


@dataclass(frozen=True)
class Options:
    """The page's choices; ``mode`` auto = relative for a video, absolute for an image.

    No defaults here: :meth:`from_config` starts from the ``mesh`` section (params.yaml holds them).
    """

    method: str
    mode: str
    expression_scale: float
    smoothing: str
    size: int
    paste_back: bool

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], **choices: Any) -> "Options":
        """The config's ``mesh`` values (the real-time engine as method), with ``choices`` over them."""
        mesh = build(Mesh, cfg.get("mesh"))
        return replace(cls(ENGINE, mesh.mode, mesh.expression_scale, mesh.smoothing.method, mesh.size,
                           mesh.paste_back), **choices)

    def check(self) -> "Options":
        if self.mode not in MODES:
            raise PetraError(f"mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if self.smoothing not in SMOOTHING:
            raise PetraError(f"smoothing {self.smoothing!r}: choose one of {', '.join(SMOOTHING)}")
        if int(self.size) not in SIZES:
            raise PetraError(f"size {self.size}: choose {' or '.join(map(str, SIZES))}")
        if not 0.0 <= float(self.expression_scale) <= 3.0:
            raise PetraError(f"expression scale {self.expression_scale}: must be within 0..3")
        return self

    def engine_kwargs(self) -> dict[str, Any]:
        return {"mode": None if self.mode == "auto" else self.mode, "size": int(self.size),
                "expression_scale": float(self.expression_scale), "smoothing": self.smoothing,
                "paste_back": bool(self.paste_back)}


def methods(cfg: Mapping[str, Any]) -> list[str]:
    """``mesh`` (the real-time engine) and every trained method with a selected checkpoint (the refined
    engine ``mesh-ours-gen`` also with its shipped one)."""
    from petra import generators as registry
    from petra import weights
    from petra.generators.mesh import variant_recipe
    from petra.train.select import selected_checkpoint

    def usable(name: str) -> bool:
        m = registry.parse(name, cfg)
        shipped = m.generator == "mesh" and variant_recipe(cfg, m.variant) == "refine" and weights.present(None, "mesh_ours_gen")
        return shipped or selected_checkpoint(cfg, name, allow_latest=False) is not None

    return [ENGINE] + [m for m in registry.trained_methods(cfg) if usable(m)]


def page_error(err: PetraError) -> str:
    """One line for the page: a file is named by its own name, not the upload cache path."""
    if isinstance(err, InputError):
        return f"{Path(err.path).name}: {err.reason}".splitlines()[0]
    return str(err).splitlines()[0]


def _need(path: str | Path | None, what: str) -> Path:
    if not path:
        raise PetraError(f"no {what}: upload one first")
    return Path(path)


def transfer_file(cfg: Mapping[str, Any], target: str | Path | None, driving: str | Path | None,
                  opts: Options, out_dir: str | Path | None = None) -> Path:
    """Animate the uploaded ``target`` with the uploaded ``driving`` image or video; returns the output file.

    A driving video gives an .mp4 (audio kept), an image a .png.
    """
    from petra.stages.transfer import _is_video

    opts.check()
    target, driving = _need(target, "portrait"), _need(driving, "driving video or image")
    if not driving.exists():
        raise InputError(driving, "file not found")
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="petra-app-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    ext = ".mp4" if _is_video(driving) else ".png"
    out = out_dir / f"{target.stem}_x_{driving.stem}_{time.strftime('%H%M%S')}{ext}"
    animate_file(target, driving, out, method=opts.method, params=cfg, **opts.engine_kwargs())
    return out


class LiveSession:
    """One browser's webcam stream through one Animator, pipelined.

    The browser sends a frame only after the previous answer arrived, so a synchronous
    handler would add the engine's time to the round trip. Instead an engine thread
    animates the newest frame while the page is busy sending and showing: :meth:`frame`
    hands over its frame and returns the newest animated frame not yet shown (one frame
    of latency). The Animator is rebuilt when the portrait or an option changes.
    """

    def __init__(self, cfg: Mapping[str, Any], wait: float = 0.5) -> None:
        from petra.api import FpsMeter

        self.cfg, self.wait = cfg, wait
        self._anim: Animator | None = None
        self._key: tuple[Any, ...] | None = None
        self.error: str | None = None
        self.engine_ms: float | None = None  # smoothed time the engine takes per frame
        self.shown = FpsMeter()  # animated frames handed to the page: the fps a viewer sees
        self._cond = threading.Condition()
        self._pending: tuple[np.ndarray, str, Options] | None = None
        self._latest: np.ndarray | None = None
        self._done = self._sent = 0  # frames animated / handed to the page
        self._worker: threading.Thread | None = None
        self._closed = False

    def frame(self, webcam: np.ndarray | None, target: str | Path | None, opts: Options) -> np.ndarray | None:
        """Queue one webcam frame; the newest animated frame not shown yet (None: nothing new within ``wait`` s)."""
        if webcam is None or not target:
            return None
        with self._cond:
            self._pending = (np.ascontiguousarray(webcam[..., :3]), str(target), opts)
            if self._worker is None:
                self._closed = False
                self._worker = threading.Thread(target=self._run, name="petra-live", daemon=True)
                self._worker.start()
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._done > self._sent or self.error is not None, timeout=self.wait)
            if self._done == self._sent:
                return None
            self._sent = self._done
            self.shown.tick()
            return self._latest

    def _run(self) -> None:
        """The engine thread: animate the newest pending frame, drop the older ones."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                job, self._pending = self._pending, None
            out = self._animate(*job)  # type: ignore[misc]
            with self._cond:
                if out is not None:
                    self._latest, self._done = out, self._done + 1
                self._cond.notify_all()

    def _animate(self, webcam: np.ndarray, target: str, opts: Options) -> np.ndarray | None:
        key = (target, opts)
        if key != self._key:
            self._close_animator()
            self._key, self.error = key, None
            try:
                opts.check()
                kw = opts.engine_kwargs()
                kw["mode"] = kw["mode"] or "relative"  # a stream: relative unless told otherwise
                self._anim = Animator(target, method=opts.method, params=self.cfg, video=True, **kw)
            except PetraError as err:  # shown in the page; the same portrait is not retried every frame
                self.error = page_error(err)
        if self._anim is None:
            return None
        t0 = time.perf_counter()
        out = self._anim.animate(webcam)
        ms = 1000 * (time.perf_counter() - t0)
        self.engine_ms = ms if self.engine_ms is None else 0.9 * self.engine_ms + 0.1 * ms
        return out

    def recapture(self) -> None:
        """The next webcam frame becomes the driver's neutral face."""
        if self._anim is not None:
            self._anim.recapture()

    @property
    def fps(self) -> float:
        """Animated frames handed to the page per second (wall clock)."""
        return self.shown.fps

    @property
    def face_found(self) -> bool:
        return bool(self._anim is not None and self._anim.face_found)

    def status(self) -> str:
        """The line the live tab shows: the measured fps, the engine's time per frame."""
        if self.error:
            return f"⚠ {self.error}"
        if self._anim is None:
            return "upload a portrait, then start the webcam"
        face = "face found" if self.face_found else "no face in the webcam"
        return (f"{self.fps:.1f} fps · engine {self.engine_ms or 0:.0f} ms/frame · {self._anim.mesh_cfg.size} px"
                f" · {face}")

    def _close_animator(self) -> None:
        if self._anim is not None:
            self._anim.close()
        self._anim, self._key, self.engine_ms = None, None, None

    def close(self) -> None:
        """Stop the engine thread and free the Animator."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.join(timeout=30)
        self._close_animator()


class Sessions:
    """Live sessions by browser session id; the least recently used ones are closed past ``keep``."""

    def __init__(self, cfg: Mapping[str, Any], keep: int = 4) -> None:
        self.cfg, self.keep = cfg, keep
        self._by_id: collections.OrderedDict[str, LiveSession] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, sid: str) -> LiveSession:
        with self._lock:
            s = self._by_id.pop(sid, None) or LiveSession(self.cfg)
            self._by_id[sid] = s
            while len(self._by_id) > self.keep:
                self._by_id.popitem(last=False)[1].close()
            return s
