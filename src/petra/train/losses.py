"""The thesis losses (§3.2), generator-agnostic: small functions plus one weighted sum.

Terms (images ``[B, 3, H, W]`` in [-1, 1]):

* ``l2`` / ``lpips``: between s_A and g_{A→A} on the full image;
* ``l2_crop`` / ``lpips_crop``: the same on the inner-face crop (rows 35:223,
  cols 32:220 of a 256-px FFHQ crop, i.e. 188 px, as pSp's ID loss crops;
  scaled by H/256 for other sizes);
* ``id``: 1 − cos(D(x), D(y)) with a pluggable embedding network D (ArcFace
  IR-SE50 in the thesis: D(G(E_i(s_A))) vs D(g_{A→R}));
* ``cos``: CosFace on motion descriptors E_m(·) with scale a and margin b:
  positives (E_m(g_AA), E_m(s_A)) and (E_m(g_AR), E_m(s_A)), negatives
  E_m(s_R) of every batch item; d = a(⟨·,·⟩ − b) for a positive, a⟨·,·⟩ for a
  negative (the margin is on the positive, as in CosFace), cross-entropy over d.

:class:`LossWeights` holds the weights from params (thesis best: l2 0, lpips 0.05,
id 0.3, cos 0, l2_crop 2, lpips_crop 0.3); :func:`weighted_total` adds the terms.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F

Tensor = torch.Tensor
Embed = Callable[[Tensor], Tensor]
TERMS = ("l2", "lpips", "id", "cos", "l2_crop", "lpips_crop")


@dataclass(frozen=True)
class LossWeights:
    """Weight of each named term; a zero weight means the term is not computed."""

    l2: float = 0.0
    lpips: float = 0.05
    id: float = 0.3
    cos: float = 0.0
    l2_crop: float = 2.0
    lpips_crop: float = 0.3

    @classmethod
    def from_params(cls, p: Mapping[str, float]) -> LossWeights:
        known = {f.name for f in fields(cls)}
        unknown = set(p) - known
        if unknown:
            raise ValueError(f"unknown loss weights {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{k: float(v) for k, v in p.items()})

    def active(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v != 0.0}


def inner_crop(x: Tensor) -> Tensor:
    """The inner-face crop: [35:223, 32:220] of 256 px (188×188), scaled to x's size."""
    h, w = x.shape[-2:]
    sy, sx = h / 256.0, w / 256.0
    y0, y1 = round(35 * sy), round(223 * sy)
    x0, x1 = round(32 * sx), round(220 * sx)
    return x[..., y0:y1, x0:x1]


def l2(x: Tensor, y: Tensor) -> Tensor:
    """Mean squared error (the thesis's L2, as pSp's ``F.mse_loss``)."""
    return F.mse_loss(x, y)


def identity_loss(embed: Embed, x: Tensor, y: Tensor) -> Tensor:
    """1 − cos(D(x), D(y)), averaged over the batch; D is any embedding network."""
    ex, ey = embed(x), embed(y)
    return (1.0 - F.cosine_similarity(ex.flatten(1), ey.flatten(1), dim=1)).mean()


def cosface_motion_loss(
    anchor: Tensor, positives: list[Tensor] | tuple[Tensor, ...], negatives: Tensor, a: float = 5.0, b: float = 0.2
) -> Tensor:
    """CosFace over motion descriptors.

    anchor: [B, ...] E_m(s_A); positives: each [B, ...] (E_m(g_AA), E_m(g_AR));
    negatives: [N, ...] E_m(s_R) (every item is a negative of every anchor).
    For each (anchor_i, positive_i): logits [a(cos_p − b), a·cos(anchor_i, n_1..N)],
    target 0; the loss is the mean cross-entropy over anchors and positives.
    """
    anc = F.normalize(anchor.flatten(1), dim=1)
    neg = F.normalize(negatives.flatten(1), dim=1)
    neg_logits = a * anc @ neg.t()  # [B, N]
    losses = []
    for pos in positives:
        p = F.normalize(pos.flatten(1), dim=1)
        pos_logit = a * ((anc * p).sum(1, keepdim=True) - b)  # [B, 1]
        logits = torch.cat([pos_logit, neg_logits], dim=1)
        target = torch.zeros(len(logits), dtype=torch.long, device=logits.device)
        losses.append(F.cross_entropy(logits, target))
    return torch.stack(losses).mean()


def weighted_total(terms: Mapping[str, Tensor], weights: LossWeights) -> Tensor:
    """Σ w_k · term_k over the active weights (every active term must be present)."""
    active = weights.active()
    missing = set(active) - set(terms)
    if missing:
        raise KeyError(f"loss terms {sorted(missing)} have non-zero weight but were not computed")
    total = sum(w * terms[k] for k, w in active.items())
    if not isinstance(total, Tensor):  # every weight zero
        total = torch.zeros((), device=next(iter(terms.values())).device) if terms else torch.zeros(())
    return total


def reconstruction_terms(
    out: Tensor, target: Tensor, weights: LossWeights, lpips_fn: Callable[[Tensor, Tensor], Tensor] | None
) -> dict[str, Tensor]:
    """l2, lpips, l2_crop, lpips_crop between an output and its ground truth (active ones only)."""
    terms: dict[str, Tensor] = {}
    active = weights.active()
    if "l2" in active:
        terms["l2"] = l2(out, target)
    if "l2_crop" in active:
        terms["l2_crop"] = l2(inner_crop(out), inner_crop(target))
    if {"lpips", "lpips_crop"} & set(active) and lpips_fn is None:
        raise ValueError("an LPIPS weight is non-zero but no LPIPS network was given")
    if "lpips" in active:
        terms["lpips"] = lpips_fn(out, target).mean()  # type: ignore[misc]
    if "lpips_crop" in active:
        terms["lpips_crop"] = lpips_fn(inner_crop(out), inner_crop(target)).mean()  # type: ignore[misc]
    return terms
