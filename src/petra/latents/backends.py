"""Latent backends: what ``petra latents`` computes per frame, by name.

A backend is built by ``factory(cfg, device)`` and has ``name`` and
``encode(images: list[np.ndarray]) -> dict[str, np.ndarray]`` (RGB uint8 aligned
crops in, arrays with one leading row per image out). Register more with
:data:`BACKENDS` (the mesh generator's backend is ``mesh``, registered by its
module); ``latents.backends[generator.name]`` in params says which run.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

# name -> "module:factory(cfg, device)"
BACKENDS: dict[str, str] = {
    "psp": "petra.latents.restyle:psp_backend",
    "e4e": "petra.latents.restyle:e4e_backend",
    "mesh": "petra.latents.mesh:mesh_backend",
}


class LatentBackend(Protocol):
    name: str

    def encode(self, images: list[np.ndarray]) -> dict[str, np.ndarray]: ...


def create(name: str, cfg: Mapping[str, Any], device: Any = "cpu") -> LatentBackend:
    if name not in BACKENDS:
        raise KeyError(f"unknown latents backend {name!r}; known: {sorted(BACKENDS)}")
    module, func = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), func)(cfg, device)
