"""Training the refinement for the shared loop: options, a sampler over the pair set, the losses.

Losses (``train_mesh.refine.weights``), images in [-1, 1]:

* self pairs (ground truth = the driving frame): the thesis's ``l2`` / ``lpips`` on the
  full image and ``l2_crop`` / ``lpips_crop`` on the 188-px inner crop, plus ``l1``;
* cross pairs (no ground truth): ``keep`` = L1 between the refined and the hand-made
  result. The warp carries the target's identity; the net may change what it must
  (mouth, seams) but is charged for every other change. This stands in for the
  thesis's ArcFace term: no face-embedding network with real weights runs here.

Augmentation (training batches only): horizontal flip, scale ±``scale_jitter`` and shift,
one colour change (brightness, contrast, saturation, per-channel gain) applied alike to
base, target and ground truth, so the net learns corrections, not a colour; a
``no_reference_share`` of the pairs is shown without the driver's reference (no region
change), as absolute mode runs.
Validation reports the same terms and ``base_lpips`` (the hand-made result's LPIPS on the
same pairs), so ``lpips / base_lpips`` is the gain.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from petra.config import build
from petra.params import TrainMeshRefine
from petra.train.losses import PSP_CROP, inner_crop

from .condition import INPUTS, net_input
from .data import RefineData
from .net import RefineNet

@dataclass(frozen=True)
class RefineOptions(TrainMeshRefine):
    """``train_mesh.refine`` (params.yaml; typed in :mod:`petra.params`, built by :func:`petra.config.build`)."""

    @classmethod
    def from_params(cls, p: Mapping[str, Any]) -> "RefineOptions":
        """The section, checked against the schema (unknown keys, weight terms, ``init``, ``data``)."""
        return build(cls, p)

    def w(self, term: str) -> float:
        return float(self.weights.get(term, 0.0))


@dataclass
class RefineBatch:
    x: torch.Tensor        # [B, 8, S, S] net input
    gt: torch.Tensor       # [B, 3, S, S] ground truth (zeros for cross pairs)
    is_self: torch.Tensor  # [B] bool

    def to(self, device: torch.device | str) -> "RefineBatch":
        return RefineBatch(self.x.to(device), self.gt.to(device), self.is_self.to(device))


def _augment(rng: np.random.Generator, maps: list[np.ndarray], size: int, scale: float) -> list[np.ndarray]:
    """The same flip and similarity (scale, shift) on every map ([S, S] or [S, S, C])."""
    flip = rng.random() < 0.5
    s = 1.0 + rng.uniform(-scale, scale)
    shift = rng.uniform(-0.03, 0.03, 2) * size
    c = size / 2.0
    a = np.array([[s, 0.0, c - s * c + shift[0]], [0.0, s, c - s * c + shift[1]]])
    out = []
    for m in maps:
        m = m[:, ::-1] if flip else m
        out.append(cv2.warpAffine(np.ascontiguousarray(m), a, (size, size), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REFLECT101))
    return out


def _colour(rng: np.random.Generator, imgs: list[np.ndarray], amount: float) -> list[np.ndarray]:
    """One random brightness / contrast / saturation / gain, applied alike to uint8 RGB images."""
    b = rng.uniform(-amount, amount) * 255.0
    c = 1.0 + rng.uniform(-amount, amount) * 1.5
    sat = 1.0 + rng.uniform(-amount, amount) * 2.0
    gain = 1.0 + rng.uniform(-amount, amount, 3) * 0.5
    out = []
    for im in imgs:
        f = im.astype(np.float32)
        grey = f.mean(axis=2, keepdims=True)
        f = grey + (f - grey) * sat
        f = (f - 128.0) * c + 128.0 + b
        out.append(np.clip(f * gain, 0, 255).astype(np.uint8))
    return out


class RefineSampler:
    """Batches of one split's pairs; batch ``k`` is a function of (seed, k) (a resumed run sees the same)."""

    def __init__(self, data: RefineData, split: str, batch_size: int, seed: int, opts: RefineOptions,
                 augment: bool) -> None:
        ok = data.pairs["ok"].to_numpy() & (data.pairs["split"].to_numpy() == split)
        kinds = data.pairs["kind"].to_numpy()
        self.self_idx = np.flatnonzero(ok & (kinds == "self"))
        self.cross_idx = np.flatnonzero(ok & (kinds == "cross"))
        if len(self.self_idx) == 0:
            raise ValueError(f"no self pairs in split {split!r} of the refinement data")
        self.data, self.batch_size, self.seed, self.opts, self.augment = data, batch_size, seed, opts, augment
        n = len(self.self_idx) + len(self.cross_idx)
        self.n_batches = max(1, n // batch_size)

    def indices(self, k: int) -> list[int]:
        rng = np.random.default_rng([self.seed, k])
        n_cross = int(rng.binomial(self.batch_size, self.opts.cross_share)) if len(self.cross_idx) else 0
        return [int(i) for i in rng.choice(self.self_idx, self.batch_size - n_cross)] + \
               [int(i) for i in rng.choice(self.cross_idx, n_cross)] if n_cross else \
               [int(i) for i in rng.choice(self.self_idx, self.batch_size)]

    def batch(self, k: int) -> RefineBatch:
        d, rng = self.data, np.random.default_rng([self.seed, k, 1])
        xs, gts, selfs = [], [], []
        for i in self.indices(k):
            row = d.pairs.iloc[i]
            is_self = row["kind"] == "self"
            base, target = np.asarray(d.base[i]), np.asarray(d.frames[row["target"]])
            gt = np.asarray(d.frames[row["driver"]]) if is_self else np.zeros_like(base)
            luma, mask, ref = np.asarray(d.luma[i]), np.asarray(d.mask[i]), np.asarray(d.ref_luma[i])
            if self.augment:
                base, target, gt = _colour(rng, [base, target, gt], self.opts.colour_jitter)
                base, target, gt, luma, mask, ref = _augment(rng, [base, target, gt, luma, mask, ref], base.shape[0],
                                                             self.opts.scale_jitter)
            # some pairs without the reference, as absolute mode (a single driving image) runs
            no_ref = self.augment and rng.random() < self.opts.no_reference_share
            xs.append(net_input(base, target, luma, mask, None if no_ref else ref))
            gts.append(gt.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0)
            selfs.append(is_self)
        return RefineBatch(torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(gts)), torch.tensor(selfs))


class RefineRecipe:
    """The shared loop's recipe for ``mesh-ours-gen`` (see :mod:`petra.train.recipe`)."""

    def __init__(self, opts: RefineOptions, data: RefineData | None, lpips_fn: Callable[..., torch.Tensor] | None,
                 device: str = "cpu", init: Path | None = None) -> None:
        """``data`` None: a check of ``init`` (train.steps 0), which reads no pairs."""
        self.opts, self.data, self.lpips, self.device = opts, data, lpips_fn, torch.device(device)
        self.init = init
        self.R = RefineNet(opts.width).to(self.device)
        if init is not None:
            from .shipped import load_net_state

            self.R.load_state_dict(load_net_state(init))
        if lpips_fn is not None:
            for p in lpips_fn.parameters():
                p.requires_grad_(False)

    # the loop's hooks
    def make_sampler(self, split: str, batch_size: int, seed: int) -> RefineSampler:
        if self.data is None:
            raise ValueError("no pair set loaded (a check: train.steps 0)")
        return RefineSampler(self.data, split, batch_size, seed, self.opts, augment=split == "train")

    def trainable_parameters(self) -> Iterable[torch.nn.Parameter]:
        return self.R.parameters()

    def train(self, mode: bool = True) -> "RefineRecipe":
        self.R.train(mode)
        return self

    def state_dict(self) -> dict[str, dict[str, Any]]:
        return {"R": self.R.state_dict(), "meta": {"inputs": INPUTS}}

    def load_state_dict(self, parts: Mapping[str, Mapping[str, Any]]) -> None:
        from .shipped import check_inputs

        check_inputs("<checkpoint>", parts.get("meta", {}).get("inputs"))
        self.R.load_state_dict(parts["R"])

    def terms(self, batch: RefineBatch, out: torch.Tensor) -> dict[str, torch.Tensor]:
        o, t = {}, {}
        s, c = batch.is_self, ~batch.is_self
        if s.any():
            y, g = out[s], batch.gt[s]
            if self.opts.w("l1"):
                t["l1"] = (y - g).abs().mean()
            if self.opts.w("l2"):
                t["l2"] = (y - g).pow(2).mean()
            if self.opts.w("l2_crop"):
                t["l2_crop"] = (inner_crop(y, PSP_CROP) - inner_crop(g, PSP_CROP)).pow(2).mean()
            if self.opts.w("lpips") and self.lpips is not None:
                t["lpips"] = self.lpips(y, g).mean()
            if self.opts.w("lpips_crop") and self.lpips is not None:
                t["lpips_crop"] = self.lpips(inner_crop(y, PSP_CROP), inner_crop(g, PSP_CROP)).mean()
        if c.any() and self.opts.w("keep"):
            t["keep"] = (out[c] - batch.x[c, :3]).abs().mean()
        total = sum(self.opts.w(k) * v for k, v in t.items())
        o.update(t)
        o["total"] = total if isinstance(total, torch.Tensor) else torch.zeros((), device=out.device)
        return o

    def step(self, batch: RefineBatch) -> dict[str, torch.Tensor]:
        return self.terms(batch, self.R(batch.x))

    @torch.no_grad()
    def validate(self, batch: RefineBatch) -> dict[str, float]:
        out = {k: float(v) for k, v in self.terms(batch, self.R(batch.x)).items()}
        s = batch.is_self
        if s.any():
            out["base_l1"] = float((batch.x[s, :3] - batch.gt[s]).abs().mean())
            if self.lpips is not None:
                out["base_lpips"] = float(self.lpips(batch.x[s, :3], batch.gt[s]).mean())
        return out

    @torch.no_grad()
    def sample_grid(self, batch: RefineBatch, n: int = 4) -> np.ndarray:
        """Rows of target | hand-made | refined | ground truth (self pairs of ``batch``), uint8 RGB."""
        idx = torch.nonzero(batch.is_self).flatten()[:n]
        out = self.R(batch.x[idx])
        tiles = [batch.x[idx, 3:6], batch.x[idx, :3], out, batch.gt[idx]]
        rows = torch.cat([torch.cat(list(t), dim=2) for t in zip(*tiles)], dim=1)
        return ((rows.permute(1, 2, 0) + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
