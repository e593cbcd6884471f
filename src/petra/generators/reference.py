"""The reference rows of every results table: ``copy-target`` and ``copy-driving``."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


class CopyTarget:
    """Output = target: perfect identity, no motion."""

    name = "copy-target"

    def set_target(self, target: np.ndarray) -> None:
        self._t = target

    def set_reference(self, driving0: np.ndarray) -> None:
        pass

    def drive(self, driving: np.ndarray) -> np.ndarray:
        return self._t


class CopyDriving:
    """Output = driving frame: perfect motion, wrong identity."""

    name = "copy-driving"

    def set_target(self, target: np.ndarray) -> None:
        pass

    def set_reference(self, driving0: np.ndarray) -> None:
        pass

    def drive(self, driving: np.ndarray) -> np.ndarray:
        return driving


def build_method(method: Any, cfg: Mapping[str, Any], checkpoint: Any = None) -> CopyTarget | CopyDriving:
    return CopyTarget() if method.variant == "target" else CopyDriving()
