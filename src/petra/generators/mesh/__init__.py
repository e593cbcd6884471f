"""The mesh generator: MediaPipe face-mesh fits (E_i), a differentiable mesh warp (G),
small E_m / M nets (nets.py) trained by the shared loop (recipe.py); `petra transfer`
renders with it (render/). Registry hooks: :func:`build_method`, :func:`prepare_training`,
:func:`train_rule`. Kept import-light: torch and mediapipe load inside the hooks."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from petra.paths import latents_dir


def build_method(method: Any, cfg: Mapping[str, Any], checkpoint: Any = None) -> Any:
    """``mesh-relative`` / ``mesh-absolute`` (hand-made) or a trained ``mesh-<variant>``."""
    if method.kind == "handmade":
        from .methods import MeshReenactor

        return MeshReenactor(cfg, method.variant)
    from .trained import MeshOurs

    return MeshOurs(cfg, method.name, checkpoint=checkpoint)


def prepare_training(cfg: Mapping[str, Any], method: Any, manifest: Any,
                     log: Callable[[str], None] = print) -> tuple[dict[str, Any], Any, Any]:
    """(params, recipe, manifest rows with a mesh fit) for the shared loop."""
    from .train_params import prepare

    return prepare(cfg, method.variant, manifest, log)


def train_rule(cfg: Mapping[str, Any], method: Any) -> dict[str, Any]:
    """What the train rule of a mesh variant reads: the fits and LPIPS; `train_mesh` + the loop keys."""
    from .train_params import rule_params

    return {"inputs": {"fits": str(latents_dir(cfg, "mesh") / "index.parquet")}, "weights": ["lpips_alex"],
            "params": rule_params(cfg, method.variant)}
