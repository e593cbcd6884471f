"""A mesh variant's training run: its params (what it reads, nothing else) and its recipe.

The shared loop (:mod:`petra.train.loop`, driven by :func:`petra.train.run.run_train`)
does the work; this module only

* sizes the run for the mesh generator: ``train_mesh.train`` (steps, lr, batch,
  resolution …) is merged over the shared loop keys of ``train``, because the shared
  defaults are the thesis's StyleGAN2 schedule (100k steps at lr 1e-5), which the
  small mesh networks neither need nor could afford on a CPU;
* reads of ``train`` only the loop keys, ``cosface`` and ``lpips_net`` (a StyleGAN2
  loss weight is not a mesh parameter: editing it reruns no mesh job);
* drops manifest frames whose mesh fit failed (they are in the latents rejects);
* records the merged ``train_mesh`` options in the run's params, so a checkpoint
  rebuilds its own architecture.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from petra.config import build, deep_merge
from petra.errors import InputError
from petra.params import TrainMesh
from petra.paths import refine_data_dir
from petra.train.options import LOOP_KEYS

SHARED_KEYS = (*LOOP_KEYS, "cosface", "lpips_net")  # what a mesh run reads of `train`
MESH_ONLY = {"motion_dim", "hidden", "id_dim", "inference", "fits", "weights"}  # what the refine recipe never reads


def rule_params(cfg: Mapping[str, Any], variant: str) -> dict[str, Any]:
    """The params a mesh variant's run depends on (the train rule's `params:`)."""
    tm = cfg.get("train_mesh") or {}
    entry = (tm.get("variants") or {}).get(variant) or {}
    # each recipe's own section: a refine setting reruns no E_m/M run, and vice versa
    refine = entry.get("recipe", tm.get("recipe", "mesh")) == "refine"
    skip = {"variants"} | (MESH_ONLY if refine else {"refine"})
    out = {"train": {k: cfg["train"][k] for k in SHARED_KEYS if k in cfg["train"]},
           "train_mesh": {**{k: v for k, v in tm.items() if k not in skip},
                          "variants": {variant: (tm.get("variants") or {}).get(variant)}}}
    if refine:  # it refines the hand-made transfer: its data and outputs follow the `mesh` settings
        out["mesh"] = {k: v for k, v in (cfg.get("mesh") or {}).items() if k != "method"}
    return out


def mesh_variant_params(cfg: Mapping[str, Any], variant: str) -> dict[str, Any]:
    """Shared loop keys of ``train`` + ``train_mesh.train`` + the variant + the mesh options."""
    tm = dict(cfg.get("train_mesh") or {})
    variants = tm.get("variants") or {}
    if variant not in variants:
        raise InputError("params.yaml", f"train_mesh.variants has no {variant!r} (has {sorted(variants)})")
    params = deep_merge({k: cfg["train"][k] for k in SHARED_KEYS if k in cfg["train"]}, tm.get("train") or {})
    entry = dict(variants[variant] or {})
    build(TrainMesh, entry, where=f"train_mesh.variants.{variant}")  # strict: a misspelt override is an error
    params = deep_merge(params, entry.pop("train", None) or {})  # a variant may resize its own run
    params["train_mesh"] = deep_merge({k: v for k, v in tm.items() if k not in ("train", "variants")}, entry)
    params["variant"] = variant
    return params


def prepare(cfg: Mapping[str, Any], variant: str, manifest: Any,
            log: Callable[[str], None] = print) -> tuple[dict[str, Any], Any, Any]:
    """(params, MeshRecipe, manifest rows that have a mesh fit) for one variant."""
    import torch  # lazy: the rules import this module to list params

    from petra.zoo import load_lpips

    from .fit import MeshFits, default_fits_path
    from .recipe import MeshOptions, MeshRecipe, max_shift_px

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    params = mesh_variant_params(cfg, variant)
    if params["train_mesh"].get("recipe", "mesh") == "refine":
        return params, refine_recipe(cfg, params, log), manifest
    opts = MeshOptions.from_params(params["train_mesh"], params["cosface"])
    table = MeshFits.load(opts.fits or default_fits_path(cfg))
    keep = manifest["aligned_path"].astype(str).map(table.__contains__)
    if (~keep).any():
        log(f"train mesh-{variant}: {int((~keep).sum())} manifest frames have no mesh fit; skipped")
    manifest = manifest[keep].reset_index(drop=True)
    lpips_fn = load_lpips(cfg, params.get("lpips_net", "alex")) if any(opts.w(t) for t in ("lpips", "lpips_crop")) else None
    recipe = MeshRecipe(opts, table, cfg["align"]["size"], lpips_fn, "cpu", int(params.get("seed", 0)), max_shift_px(cfg))
    return params, recipe, manifest


def refine_recipe(cfg: Mapping[str, Any], params: Mapping[str, Any], log: Callable[[str], None] = print) -> Any:
    """The refine recipe (mesh-ours-gen) over the pair set ``petra refine-data`` built."""
    from petra.zoo import load_lpips

    from .refine.data import RefineData
    from .refine.recipe import RefineOptions, RefineRecipe
    from .refine.shipped import shipped_path

    opts = RefineOptions.from_params(params["train_mesh"].get("refine") or {})
    init = shipped_path() if opts.init == "shipped" else None
    if int(params["steps"]) == 0:  # a check of the starting checkpoint: no pair set needed
        log(f"train: refine recipe, steps 0: a check of {init or 'no starting checkpoint'}")
        return RefineRecipe(opts, None, None, "cpu", init)
    data = RefineData.load(refine_data_dir(cfg, opts.data.source))
    log(f"train: refine recipe on {len(data.pairs)} pairs of {data.table['clip'].nunique()} clips"
        + (f", starting from {init}" if init else ", from zero"))
    return RefineRecipe(opts, data, load_lpips(cfg, params.get("lpips_net", "alex")), "cpu", init)
