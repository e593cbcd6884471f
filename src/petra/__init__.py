"""petra: Pose & Expression TRAnsfer between face images.

``from petra import Animator`` is the Python API (:mod:`petra.api`); it is imported on
first use, so ``import petra`` stays light (no torch, no MediaPipe).
"""
from typing import Any

__version__ = "0.1.0"
__all__ = ["Animator", "animate_file", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Animator", "animate_file"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'petra' has no attribute {name!r}")
