"""The mesh generator: MediaPipe face-mesh fits (E_i), a differentiable mesh warp (G),
small E_m / M nets (nets.py) trained by the shared loop (recipe.py); `petra transfer`
renders with it (render/). Registry hooks: :func:`build_method`, :func:`prepare_training`,
:func:`train_rule`. Kept import-light: torch and mediapipe load inside the hooks."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from petra.config import build
from petra.params import TrainMeshRefine
from petra.paths import latents_dir, refine_data_dir


def build_method(method: Any, cfg: Mapping[str, Any], checkpoint: Any = None) -> Any:
    """``mesh-relative`` / ``mesh-absolute`` (hand-made) or a trained ``mesh-<variant>``."""
    if method.kind == "handmade":
        from .methods import MeshReenactor

        return MeshReenactor(cfg, method.variant)
    if variant_recipe(cfg, method.variant) == "refine":  # mesh-ours-gen: hand-made transfer + learned refinement
        from .methods import MeshReenactor
        from .refine.reenactor import Refiner, refiner_checkpoint

        return MeshReenactor(cfg, "relative", refiner=Refiner(refiner_checkpoint(cfg, method.name, checkpoint)),
                             name=method.name)
    from .trained import MeshOurs

    return MeshOurs(cfg, method.name, checkpoint=checkpoint)


def variant_recipe(cfg: Mapping[str, Any], variant: str) -> str:
    """``mesh`` (E_m + M through the torch warp) or ``refine`` (the learned refinement)."""
    tm = cfg.get("train_mesh") or {}
    entry = (tm.get("variants") or {}).get(variant) or {}
    return str(entry.get("recipe", tm.get("recipe", "mesh")))


def prepare_training(cfg: Mapping[str, Any], method: Any, manifest: Any,
                     log: Callable[[str], None] = print) -> tuple[dict[str, Any], Any, Any]:
    """(params, recipe, manifest rows with a mesh fit) for the shared loop."""
    from .train_params import prepare

    return prepare(cfg, method.variant, manifest, log)


def train_rule(cfg: Mapping[str, Any], method: Any) -> dict[str, Any]:
    """What the train rule of a mesh variant reads: the fits and LPIPS; `train_mesh` + the loop keys."""
    from .train_params import mesh_variant_params, rule_params

    if variant_recipe(cfg, method.variant) == "refine":
        refine = build(TrainMeshRefine, cfg["train_mesh"].get("refine"))
        check = int(mesh_variant_params(cfg, method.variant)["steps"]) == 0  # the shipped file as is: no pair set
        return {"inputs": {} if check else {"pairs": str(refine_data_dir(cfg, refine.data.source) / "done.json")},
                "weights": ["lpips_alex"] + (["mesh_ours_gen"] if refine.init == "shipped" else []),
                "params": rule_params(cfg, method.variant)}
    return {"inputs": {"fits": str(latents_dir(cfg, "mesh") / "index.parquet")}, "weights": ["lpips_alex"],
            "params": rule_params(cfg, method.variant)}
