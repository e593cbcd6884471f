"""The shipped refinement checkpoint: a file in this package, registered with its sha256.

Why in the package: ``pip install petra`` then ``petra transfer --method mesh-ours-gen``
must work offline, and the sample run checks it (``train.steps: 0``) instead of training
from zero; beside it, ``mesh_ours_gen.curves.json`` holds the curves of the run that made it. The file holds only the net (``{"R": state_dict, "width": int, "provenance": {...}}``)
and is read with ``weights_only=True`` after its hash is checked (:mod:`petra.weights`).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from petra.errors import PetraError
from petra.io import atomic_path, sha256_file, write_json
from petra.safeload import safe_torch_load
from petra.train.checkpoint import curves_path

REGISTRY_NAME = "mesh_ours_gen"
FILENAME = "mesh_ours_gen.pt"


def shipped_path() -> Path:
    """The packaged checkpoint, hash-checked (MissingWeightsError if the package lacks it)."""
    from petra import weights

    return Path(weights.require(None, REGISTRY_NAME))


def read(path: str | Path) -> dict[str, Any]:
    """A refinement checkpoint: the shipped format, or a training checkpoint of the shared loop.
    ``inputs``: the input encoding it was trained on (None: made before checkpoints recorded it)."""

    obj = safe_torch_load(path)
    if "R" in obj:  # shipped
        return {"R": obj["R"], "width": int(obj["width"]), "provenance": obj.get("provenance", {}),
                "inputs": obj.get("inputs")}
    parts = obj.get("parts", {})
    if "R" not in parts:
        raise PetraError(f"{path}: not a refinement checkpoint (no 'R' net)")
    width = int(parts["R"]["stem.0.weight"].shape[0])
    return {"R": parts["R"], "width": width, "provenance": {"checkpoint": str(path), "step": obj.get("step")},
            "inputs": parts.get("meta", {}).get("inputs")}


def check_inputs(path: str | Path, inputs: str | None) -> None:
    """PetraError unless a checkpoint was trained on this petra's net inputs."""
    from .condition import INPUTS

    if inputs != INPUTS:
        raise PetraError(f"{path}: a refinement checkpoint for other net inputs ({inputs or 'unrecorded'}; "
                         f"this petra feeds {INPUTS}): retrain it, or use the shipped one")


def load_net_state(path: str | Path) -> Mapping[str, Any]:
    obj = read(path)
    check_inputs(path, obj["inputs"])
    return obj["R"]


def export(checkpoint: str | Path, out: str | Path, provenance: Mapping[str, Any],
           curves: Mapping[str, Any] | None = None) -> str:
    """Write a training checkpoint's net in the shipped format; returns the file's sha256.
    ``curves`` (the run's ``{"train": [...], "val": [...]}`` log rows) go beside it
    (:func:`petra.train.checkpoint.curves_path`), so a check of the shipped file can still
    show how it was trained."""
    import torch

    src = read(checkpoint)
    prov = {**src["provenance"], **dict(provenance)}
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        # through a file object: the zip's record names are then "archive/…", not the temporary
        # file's name, so the same weights and provenance give the same bytes (and sha256)
        torch.save({"R": src["R"], "width": src["width"], "provenance": prov, "inputs": src["inputs"]}, fh)
    if curves is not None:
        write_json(curves_path(out), {"provenance": prov, **dict(curves)})
    return sha256_file(out)
