"""The trained mesh variants as :class:`petra.generators.Reenactor` s: mesh-ours, -ours-cos, -ours-gen.

``set_target`` is E_i (one MediaPipe fit of the target crop, kept with the crop as
texture); ``drive`` fits the driving crop, computes the hand-made transfer
(relative to the driving video's first frame with ``train_mesh.inference:
relative``, as trained), runs E_m and M on top of it and renders with the same
warp as training, at the crop's full size. A driving frame
without a detectable face gives the previous output (or the target).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from petra.errors import InputError, MissingWeightsError, NoFaceError, PetraError


def find_checkpoint(cfg: Mapping[str, Any], method: str) -> Path:
    """The checkpoint ``petra select`` chose for this method, else the run's latest."""
    from petra.train.select import selected_checkpoint

    path = selected_checkpoint(cfg, method, allow_latest=True)
    if path is None:
        raise MissingWeightsError(f"{Path(cfg['paths']['models']) / 'train' / method}: no checkpoint of {method}; "
                                  f"run `petra train --method {method}` first")
    return path


class MeshOurs:
    """One trained mesh variant, stateful over one (target, driving video) pair."""

    def __init__(self, cfg: Mapping[str, Any], method: str, checkpoint: str | Path | None = None) -> None:
        from petra.train.checkpoint import load_checkpoint
        from .recipe import MeshOptions, MeshRecipe, max_shift_px
        from .render.transfer import MeshConfig
        from .train_params import mesh_variant_params

        self.name = method
        self._ref: dict[str, torch.Tensor] | None = None
        # the engine's layers (gaze, head layer, mouth interior) as mesh-relative renders with: a
        # comparison with the hand-made transfer then measures M, not a renderer setting
        self._engine = MeshConfig.from_params(cfg)
        variant = method.removeprefix("mesh-")
        path = Path(checkpoint) if checkpoint else find_checkpoint(cfg, method)
        obj = load_checkpoint(path)
        params = obj["config"].get("params") or {}
        mesh = params.get("train_mesh") or mesh_variant_params(cfg, variant)["train_mesh"]
        try:  # the architecture the checkpoint was trained with
            opts = MeshOptions.from_params(mesh, params.get("cosface"))
        except PetraError as err:
            raise InputError(path, f"trained with options this petra does not know ({err}); retrain it") from None
        # the base transfer's mode (relative: vs the driving video's first frame) is the one trained with
        self.mode = opts.inference
        self.recipe = MeshRecipe(opts, _EmptyFits(), cfg["align"]["size"], None, "cpu", max_shift=max_shift_px(cfg))
        self.recipe.load_state_dict(obj["parts"])
        self.recipe.train(False)
        self.checkpoint = path
        self._mesh: Any = None
        self._t: dict[str, torch.Tensor] | None = None
        self._t_img: torch.Tensor | None = None
        self._last: np.ndarray | None = None

    def _fit(self, rgb: np.ndarray) -> dict[str, torch.Tensor]:
        from petra.geometry.facemesh import FaceMesh
        from .fit import fit_image

        if self._mesh is None:
            self._mesh = FaceMesh(static=True)
        f = fit_image(rgb, self._mesh)
        return {k: torch.as_tensor(np.asarray(getattr(f, k)), dtype=torch.float32)[None]
                for k in ("points", "canon", "scale", "rotation", "translation", "pose")}

    def set_target(self, target: np.ndarray) -> None:
        from .render.warp import MeshWarper

        self._t = self._fit(target)
        self._t_img = torch.from_numpy(np.ascontiguousarray(target)).permute(2, 0, 1)[None].float() / 127.5 - 1.0
        e = self._engine
        self._warper = MeshWarper(target, self._t["points"][0].double().numpy(), gaze=e.gaze, head=e.head_layer,
                                  mouth=e.mouth_interior)
        self._target = target
        self._last = None

    def set_reference(self, driving0: np.ndarray) -> None:
        """``relative`` mode: remember the driving video's first frame (see :meth:`drive`)."""
        self._ref = None
        if self.mode == "relative":
            try:
                self._ref = self._fit(driving0)
            except NoFaceError:
                self._ref = None

    @torch.no_grad()
    def drive(self, driving: np.ndarray) -> np.ndarray:
        assert self._t is not None and self._t_img is not None, "set_target first"
        try:
            s = self._fit(driving)
        except NoFaceError:
            return self._last if self._last is not None else self._target
        if self.mode == "relative" and self._ref is None:
            self._ref = s  # as mesh-relative: the first driving frame with a face is the reference
        size = self._t_img.shape[-1]
        k = size / self.recipe.align_size
        pts = self.output_mesh(s)
        # the fast renderer: same field and layers as training's torch path, the mouth from the driving frame
        out = self._warper.render(pts, driving, s["points"][0].double().numpy() * k)
        self._last = out
        return out

    @torch.no_grad()
    def output_mesh(self, s: dict[str, torch.Tensor]) -> np.ndarray:
        """The output mesh [478, 3] (crop pixels) for a driving fit: M on the hand-made base.

        Relative mode measures the source against the reference frame (the source
        itself when there is none, as ``compose_params`` does).
        """
        assert self._t is not None and self._t_img is not None, "set_target first"
        size = self._t_img.shape[-1]
        _, _, pts, _ = self.recipe.forward_mesh(s, self._t, size, self._ref)
        return pts[0].double().numpy()


class _EmptyFits:
    """Inference needs no fit cache: fits are computed from the images."""

    arrays = {k: np.zeros((0,)) for k in ("points", "canon", "scale", "rotation", "translation", "pose")}

    def rows(self, paths: Any) -> np.ndarray:  # pragma: no cover - never called at inference
        raise KeyError("no fit cache at inference")

