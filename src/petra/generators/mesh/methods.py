"""``mesh-relative`` / ``mesh-absolute``: the mesh generator behind petra's Reenactor protocol.

No learning: target identity + source expression + source pose, retargeted in the
canonical face frame and rendered by the mesh warp (docs/mesh.md). Aligned crops in,
aligned crops out, as :mod:`petra.generators` requires.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from petra.errors import NoFaceError
from .render.transfer import MeshConfig, Transfer


class MeshReenactor:
    """Reenactor over aligned crops; a driving frame without a face returns the target unchanged."""

    def __init__(self, cfg: Mapping[str, Any], mode: str) -> None:
        self.name = f"mesh-{mode}"
        self.cfg = MeshConfig.from_params(cfg, mode=mode, paste_back=False)
        self._tr: Transfer | None = None
        self._target: np.ndarray | None = None

    def set_target(self, target: np.ndarray) -> None:
        if self._tr is not None:
            self._tr.close()
        self._target = target
        self._tr = Transfer(target, self.cfg, video=False, aligned=True)

    def set_reference(self, driving0: np.ndarray) -> None:
        assert self._tr is not None, "set_target first"
        try:
            self._tr.set_reference(driving0)
        except NoFaceError:
            self._tr.reference = None  # the first driving frame with a face becomes the reference

    def drive(self, driving: np.ndarray) -> np.ndarray:
        assert self._tr is not None and self._target is not None, "set_target first"
        try:
            return self._tr.drive(driving).crop
        except NoFaceError:
            return self._target.copy()

