"""Method variants behind one interface, so evaluation scores them all the same way.

A *method* turns (target crop, driving crop) into an output crop: the thesis's
``g = G(M(E_m(s) ⊕ E_i(t)))`` for the learned variants, a hand-made transfer for
``mesh-relative``, and the two reference rows ``copy-target`` / ``copy-driving``.
All images are aligned RGB uint8 crops, H×W×3, of the profile's ``align.size``.

Factories are registered by name as ``"module:function"`` strings and imported
lazily; a factory takes the resolved config and returns a :class:`Reenactor`.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, Protocol

import numpy as np


class Reenactor(Protocol):
    """One method variant, stateful over one (target, driving video) pair."""

    name: str

    def set_target(self, target: np.ndarray) -> None:
        """E_i: encode the identity image once (the 0.5 s inversion of the thesis)."""

    def set_reference(self, driving0: np.ndarray) -> None:
        """Remember the driving video's first frame (relative motion); may be a no-op."""

    def drive(self, driving: np.ndarray) -> np.ndarray:
        """Render the target with the motion of ``driving``; returns an RGB uint8 crop."""


class CopyTarget:
    """Reference row: output = target (perfect identity, no motion)."""

    name = "copy-target"

    def set_target(self, target: np.ndarray) -> None:
        self._t = target

    def set_reference(self, driving0: np.ndarray) -> None:
        pass

    def drive(self, driving: np.ndarray) -> np.ndarray:
        return self._t


class CopyDriving:
    """Reference row: output = driving frame (perfect motion, wrong identity)."""

    name = "copy-driving"

    def set_target(self, target: np.ndarray) -> None:
        pass

    def set_reference(self, driving0: np.ndarray) -> None:
        pass

    def drive(self, driving: np.ndarray) -> np.ndarray:
        return driving


Factory = Callable[[Mapping[str, Any]], Reenactor]

# name -> "module:function". Implementations register here.
REGISTRY: dict[str, str] = {
    "copy-target": "petra.methods:_copy_target",
    "copy-driving": "petra.methods:_copy_driving",
    "mesh-relative": "petra.render.reenactor:mesh_relative",
    "mesh-absolute": "petra.render.reenactor:mesh_absolute",
    "mesh-ours": "petra.train.mesh_reenactor:mesh_ours",
    "mesh-ours-cos": "petra.train.mesh_reenactor:mesh_ours_cos",
    "mesh-ours-gen": "petra.train.mesh_reenactor:mesh_ours_gen",
    "sg2-ours": "petra.train.reenactor:ours",
    "sg2-ours-cos": "petra.train.reenactor:ours_cos",
    "sg2-ours-gen": "petra.train.reenactor:ours_gen",
    "sg2-baseline-psp": "petra.baseline.reenactor:psp",
    "sg2-baseline-e4e": "petra.baseline.reenactor:e4e",
}


def _copy_target(cfg: Mapping[str, Any]) -> Reenactor:
    return CopyTarget()


def _copy_driving(cfg: Mapping[str, Any]) -> Reenactor:
    return CopyDriving()


def create(name: str, cfg: Mapping[str, Any]) -> Reenactor:
    """Build the method ``name`` from the resolved config."""
    if name not in REGISTRY:
        raise KeyError(f"unknown method {name!r}; known: {sorted(REGISTRY)}")
    module, func = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), func)(cfg)
