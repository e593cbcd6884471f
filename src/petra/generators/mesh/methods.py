"""``mesh-relative`` / ``mesh-absolute``: the mesh generator behind petra's Reenactor protocol.

No learning: target identity + source expression + source pose, retargeted in the
canonical face frame and rendered by the mesh warp (docs/mesh.md). Aligned crops in,
aligned crops out, as :mod:`petra.generators` requires.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from petra.errors import NoFaceError

from .render.transfer import MeshConfig, Output, Refiner, Transfer


class MeshReenactor:
    """Reenactor over aligned crops; a driving frame without a face returns the target unchanged."""

    def __init__(self, cfg: Mapping[str, Any], mode: str, refiner: Refiner | None = None, name: str | None = None) -> None:
        self.name = name or f"mesh-{mode}"
        self.cfg = MeshConfig.from_params(cfg, mode=mode, paste_back=False)
        self.refiner = refiner  # mesh-ours-gen: the learned refinement after the hand-made render
        self._tr: Transfer | None = None
        self._target: np.ndarray | None = None
        self._clip: dict[bytes, np.ndarray] = {}  # set_clip's landmarks, by frame digest

    def set_target(self, target: np.ndarray) -> None:
        if self._tr is not None:
            self._tr.close()
        self._target = target
        self._tr = Transfer(target, self.cfg, video=False, aligned=True, refiner=self.refiner)

    def close(self) -> None:
        """Release the MediaPipe graphs of the current target (a long-lived process drives many)."""
        if self._tr is not None:
            self._tr.close()
            self._tr = None

    def set_reference(self, driving0: np.ndarray) -> None:
        assert self._tr is not None, "set_target first"
        try:
            self._tr.set_reference(driving0)
        except NoFaceError:
            self._tr.reference = None  # the first driving frame with a face becomes the reference

    def set_clip(self, frames: Sequence[np.ndarray]) -> None:
        """Relative mode: the driver's neutral face over the whole clip becomes the reference
        (as ``petra transfer`` does), instead of the first frame; the frames' landmarks are
        kept for drive()."""
        assert self._tr is not None, "set_target first"
        self._clip = {}
        pts: list[np.ndarray | None] = []
        for f in frames:
            try:
                p = self._tr.landmarks(f)
            except NoFaceError:
                p = None
            pts.append(p)
            if p is not None:
                self._clip[_digest(f)] = p
        if self._tr.mode == "relative" and any(p is not None for p in pts):
            self._tr.analyse(pts, frames)

    def drive(self, driving: np.ndarray) -> np.ndarray:
        assert self._target is not None, "set_target first"
        out = self.engine_output(driving)
        return self._target.copy() if out is None else out.crop

    def engine_output(self, driving: np.ndarray) -> Output | None:
        """The engine's whole output for a driving crop (the crop and the output mesh, which
        benchmarks/flcorr_chain.py reads); None when the driving crop has no face."""
        assert self._tr is not None, "set_target first"
        try:
            return self._tr.drive(driving, pts=self._clip.get(_digest(driving)))
        except NoFaceError:
            return None


def _digest(frame: np.ndarray) -> bytes:
    """A frame's identity by content (the runner may hand drive() a copy of a set_clip frame)."""
    h = hashlib.blake2b(np.ascontiguousarray(frame).tobytes(), digest_size=16)
    h.update(str(frame.shape).encode())
    return h.digest()

