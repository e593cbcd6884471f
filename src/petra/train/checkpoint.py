"""Training checkpoints: named parts, config, step and optimiser, safely loadable.

A checkpoint is ``<run>/checkpoints/ckpt-<step:08d>.pt`` holding a dict of plain
containers and tensors (so ``torch.load(weights_only=True)`` reads it):
``{'parts': {'E_m': sd, 'M': sd, ...}, 'optimizer': sd | None, 'step': int,
'config_json': str, 'format': 'petra-train-1'}``. A ``.sha256`` file beside it
records its digest; loading checks it, so a truncated or swapped file fails loudly. The
file and its sidecar change together (:func:`petra.io.atomic_path_with_sidecar`): a kill
while a checkpoint is rewritten leaves the old or the new one, each accepted by the sidecar.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io import atomic_path_with_sidecar, sha256_file, sidecar, sidecar_digests

FORMAT = "petra-train-1"
_NAME = re.compile(r"^ckpt-(\d{8})\.pt$")


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"ckpt-{int(step):08d}.pt"


def best_path(run_dir: str | Path) -> Path:
    """``<run>/checkpoints/best.pt``: the best total validation loss so far (not listed by :func:`list_checkpoints`)."""
    return Path(run_dir) / "checkpoints" / "best.pt"


def save_checkpoint(
    path: str | Path,
    parts: Mapping[str, Mapping[str, Any]],
    config: Mapping[str, Any],
    step: int,
    optimizer: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint and its ``.sha256`` sidecar atomically, together."""
    import torch

    path = Path(path)
    obj = {
        "format": FORMAT,
        "parts": {k: dict(v) for k, v in parts.items()},
        "optimizer": optimizer,
        "step": int(step),
        "config_json": json.dumps(config, sort_keys=True, default=str),
        "extra": dict(extra or {}),
    }
    with atomic_path_with_sidecar(path) as tmp:
        torch.save(obj, tmp)
    return path


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` after checking its sha256 sidecar."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint not found")
    expected = sidecar_digests(path)
    if not expected:
        raise InputError(path, f"no {sidecar(path).name} beside the checkpoint; refusing to load an unverified file")
    actual = sha256_file(path)
    if actual not in expected:
        raise InputError(path, f"sha256 mismatch (file {actual[:12]}…, recorded {expected[0][:12]}…): corrupt or replaced")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for bad files
        raise InputError(path, f"not a loadable checkpoint ({type(err).__name__})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise InputError(path, f"not a petra training checkpoint (format {obj.get('format') if isinstance(obj, dict) else type(obj)})")
    obj["config"] = json.loads(obj.pop("config_json"))
    return obj


def strip_optimizer(path: str | Path) -> None:
    """Rewrite a checkpoint without its optimiser state (weights, config and step stay)."""
    obj = load_checkpoint(path)
    if obj.get("optimizer") is None:
        return
    save_checkpoint(path, obj["parts"], obj["config"], obj["step"], None, obj.get("extra"))


def curves_path(checkpoint: str | Path) -> Path:
    """``<stem>.curves.json`` beside a released checkpoint: the training log rows that made it
    (``{"provenance", "train", "val"}``), drawn by a check of that file (train.steps 0)."""
    p = Path(checkpoint)
    return p.with_name(p.stem + ".curves.json")


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every complete checkpoint of a run (with its sha256), by step."""
    d = Path(run_dir) / "checkpoints"
    out = []
    for p in d.glob("ckpt-*.pt") if d.is_dir() else []:
        m = _NAME.match(p.name)
        if m and sidecar(p).is_file():
            out.append((int(m.group(1)), p))
    return sorted(out)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    ckpts = list_checkpoints(run_dir)
    return ckpts[-1][1] if ckpts else None
