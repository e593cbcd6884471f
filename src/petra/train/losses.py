"""The thesis losses (§3.2), generator-agnostic: small functions plus one weighted sum.

Terms (images ``[B, 3, H, W]`` in [-1, 1]):

* ``l2`` / ``lpips``: between s_A and g_{A→A} on the full image;
* ``l2_crop`` / ``lpips_crop``: the same on an inner-face crop box (rows y0:y1,
  cols x0:x1 of a 256-px FFHQ crop, scaled by H/256 for other sizes): the released
  thesis code's :data:`RELEASED_CROP` (55:243, 32:220) or pSp's ID-loss crop
  :data:`PSP_CROP` (35:223, 32:220), both 188 px;
* ``id``: 1 − cos(D(x), D(y)) with a pluggable embedding network D (ArcFace
  IR-SE50 in the thesis: D(G(E_i(t_R))) vs D(g_{A→R}));
* ``cos``: CosFace on motion descriptors E_m(·), in two forms:
  :func:`cosface_released` (the released code: scale s, margin m on all four
  similarities, 2 negatives per item, summed over the batch and divided by B) and
  :func:`cosface_motion_loss` (petra's reading of the thesis text: margin on the
  positive only, every E_m(s_R) of the batch a negative, mean cross-entropy).

:class:`LossWeights` holds the weights of ``train.weights`` (params.yaml holds the values: the
thesis's best); :func:`weighted_total` adds the terms.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from petra.config import build
from petra.params import TrainWeights

Tensor = torch.Tensor
Embed = Callable[[Tensor], Tensor]
TERMS = ("l2", "lpips", "id", "cos", "l2_crop", "lpips_crop")


@dataclass(frozen=True)
class LossWeights(TrainWeights):
    """Weight of each named term (``train.weights``; values: params.yaml); zero = the term is not computed."""

    @classmethod
    def from_params(cls, p: Mapping[str, float] | None) -> LossWeights:
        """A run's weights, typed and checked: an unknown term is one line naming it, a missing one
        takes params.yaml's value."""
        return build(cls, p)

    def active(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v != 0.0}


Box = tuple[int, int, int, int]  # y0, y1, x0, x1 at 256 px
PSP_CROP: Box = (35, 223, 32, 220)  # pSp IDLoss.extract_feats; the mesh recipe's crop
RELEASED_CROP: Box = (55, 243, 32, 220)  # the released thesis code's crop losses (coach.calc_loss)


def inner_crop(x: Tensor, box: Box = PSP_CROP) -> Tensor:
    """The inner-face crop ``box`` (rows y0:y1, cols x0:x1 of 256 px), scaled to x's size."""
    h, w = x.shape[-2:]
    sy, sx = h / 256.0, w / 256.0
    y0, y1, x0, x1 = box
    return x[..., round(y0 * sy):round(y1 * sy), round(x0 * sx):round(x1 * sx)]


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


def cosface_released(anchor: Tensor, outputs: tuple[Tensor, Tensor], negative: Tensor, s: float = 5.0,
                     m: float = 2.0, eps: float = 1e-8) -> Tensor:
    """CosFace as the released thesis code computes it (``CosFace(s=5, m=2)`` in coach.calc_loss).

    anchor: E_m(s_A) [B, ...]; outputs: (E_m(g_AA), E_m(g_AR)); negative: E_m(s_R) [B, ...].
    With d(u, v) = s(cos(u, v) − m), per item: positives p_k = d(out_k, anchor), negatives
    n_k = d(out_k, negative); loss = Σ_i −[log(softmax_0(p_1, n_1, n_2) + eps) +
    log(softmax_0(p_2, n_1, n_2) + eps)] / B. m shifts all four logits equally, so it cancels.
    """
    anc, neg = anchor.flatten(1), negative.flatten(1)
    pos = [s * (F.cosine_similarity(o.flatten(1), anc, dim=1) - m) for o in outputs]
    negs = [s * (F.cosine_similarity(o.flatten(1), neg, dim=1) - m) for o in outputs]
    total = anchor.new_zeros(())
    for p in pos:
        prob = torch.softmax(torch.stack([p, *negs], dim=1), dim=1)[:, 0]
        total = total - torch.log(prob + eps).sum()
    return total / anchor.shape[0]


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
    out: Tensor, target: Tensor, weights: LossWeights, lpips_fn: Callable[[Tensor, Tensor], Tensor] | None,
    crop: Box = PSP_CROP,
) -> dict[str, Tensor]:
    """l2, lpips, l2_crop, lpips_crop (on ``crop``) between an output and its ground truth (active ones only)."""
    terms: dict[str, Tensor] = {}
    active = weights.active()
    if "l2" in active:
        terms["l2"] = l2(out, target)
    if "l2_crop" in active:
        terms["l2_crop"] = l2(inner_crop(out, crop), inner_crop(target, crop))
    if {"lpips", "lpips_crop"} & set(active) and lpips_fn is None:
        raise ValueError("an LPIPS weight is non-zero but no LPIPS network was given")
    if "lpips" in active:
        terms["lpips"] = lpips_fn(out, target).mean()  # type: ignore[misc]
    if "lpips_crop" in active:
        terms["lpips_crop"] = lpips_fn(inner_crop(out, crop), inner_crop(target, crop)).mean()  # type: ignore[misc]
    return terms
