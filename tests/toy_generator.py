"""A toy generator used only by the extensibility test: one file, one register() call.

``toy-still`` returns the target unchanged (a generator that ignores the driver), which
makes its results row predictable: it must equal ``copy-target``'s.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


class Still:
    name = "toy-still"

    def set_target(self, target: np.ndarray) -> None:
        self._t = target.copy()

    def set_reference(self, driving0: np.ndarray) -> None:
        pass

    def drive(self, driving: np.ndarray) -> np.ndarray:
        return self._t


def build_method(method: Any, cfg: Mapping[str, Any], checkpoint: Any = None) -> Still:
    return Still()
