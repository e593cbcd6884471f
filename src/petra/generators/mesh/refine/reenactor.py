"""``mesh-ours-gen`` at inference: the hand-made transfer, then the refinement net.

The net runs as :class:`~petra.generators.mesh.render.transfer.Transfer`'s refiner, so
the evaluation (aligned crops), ``petra transfer`` (paste-back into the photo, video
smoothing) and the live app get the same result.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from petra.errors import PetraError

from .condition import net_input, regions_with_reference
from .net import RefineNet


class Refiner:
    """The callable a Transfer runs after its render (see ``render.transfer.Refiner``)."""

    def __init__(self, checkpoint: str | Path, threads: int | None = None) -> None:
        from .shipped import check_inputs, read

        obj = read(checkpoint)
        check_inputs(checkpoint, obj["inputs"])
        self.net = RefineNet(obj["width"]).eval()
        self.net.load_state_dict(obj["R"])
        self.checkpoint, self.provenance = Path(checkpoint), obj["provenance"]
        if threads:
            torch.set_num_threads(threads)

    @torch.inference_mode()
    def __call__(self, target: np.ndarray, crop: np.ndarray, out_mesh: np.ndarray, driving: np.ndarray,
                 pts: np.ndarray, reference: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """``reference``: the driver's reference frame and its points (relative mode), else None."""
        size = crop.shape[0]
        luma, mask, ref = regions_with_reference(driving, pts, out_mesh, size, reference)
        x = torch.from_numpy(net_input(crop, target, luma, mask, ref))[None]
        y = self.net(x)[0]
        return ((y.permute(1, 2, 0) + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


def refiner_checkpoint(cfg: Mapping[str, Any], method: str, checkpoint: str | Path | None = None) -> Path:
    """The checkpoint a refined method runs: the given one, else ``petra select``'s choice (or the run's
    latest) when it was trained on this petra's net inputs, else the shipped file."""
    if checkpoint:
        return Path(checkpoint)
    from petra.train.select import selected_checkpoint

    from .shipped import check_inputs, read, shipped_path

    path = selected_checkpoint(cfg, method, allow_latest=True)
    if path is not None:
        try:
            check_inputs(path, read(path)["inputs"])
            return Path(path)
        except PetraError as exc:  # e.g. a fine-tune made by an older petra: say so, run the shipped one
            print(f"petra: warning: {exc}; using the shipped checkpoint", file=sys.stderr)
    return shipped_path()


def engine_refiner(cfg: Mapping[str, Any], method: str, checkpoint: str | Path | None = None) -> Refiner | None:
    """The refinement net when ``method`` is a refine-recipe mesh variant (``mesh-ours-gen``), else None:
    such a method runs inside the real-time engine (paste-back, smoothing), not on crops. ``checkpoint``:
    that file instead of the selected (or shipped) one."""
    from petra import generators
    from petra.generators.mesh import variant_recipe

    m = generators.parse(method, cfg)
    if m.generator != "mesh" or not m.trained or variant_recipe(cfg, m.variant) != "refine":
        return None
    return Refiner(refiner_checkpoint(cfg, m.name, checkpoint))
