"""The thesis recipe on StyleGAN2: g = G(M(E_m(s) ⊕ E_i(t))), E_i and G frozen.

Parts (:mod:`petra.generators.stylegan2.parts`): E_m = pSp GradualStyleEncoder (trained;
``tiny`` for CI), M = :class:`petra.models.mapping.LinearMapping` (trained, starts
as "keep E_i(t)"), E_i = ReStyle-pSp W+ precomputed by ``petra latents`` (looked
up by aligned_path; inverted on the fly for frames without a stored code),
G = StyleGAN2 (frozen; trained too when ``tune_generator``, the ``gen`` variant),
D = ArcFace IR-SE50 (frozen), LPIPS (frozen).

One step (thesis §3.2), images at the training resolution:

* g_AA = G(M(E_m(s_A) ⊕ E_i(t_A))), g_AR = G(M(E_m(s_A) ⊕ E_i(t_R)));
* l2 / lpips (+ ``_crop`` on the inner face) between g_AA and s_A;
* id = 1 − cos(D(G(E_i(t_R))), D(g_AR)). DESIGN.md writes the reference as
  D(G(E_i(s_A))); with g_AR carrying R's identity that would reward showing A's
  face, so petra compares g_AR with R's own inversion (flagged to the lead);
* cos = CosFace(E_m(s_A); E_m(g_AA), E_m(g_AR) | negatives E_m(s_R)).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from petra.train import losses as L
from petra.generators.stylegan2 import parts as P
from petra.train.sampler import PairBatch


class StyleGAN2Recipe:
    """Implements the :class:`~petra.train.recipe.Recipe` contract for the StyleGAN2 generator."""

    def __init__(self, cfg: Mapping[str, Any], params: Mapping[str, Any], device: Any = "cpu",
                 latents_dir: str | Path | None = None) -> None:
        from petra.models.mapping import LinearMapping

        self.cfg, self.params, self.device = cfg, params, torch.device(device)
        sg = cfg["stylegan2"]
        self.n = P.n_latent(sg["size"])
        self.enc_size = int(sg["encoder_input"])
        self.weights = L.LossWeights.from_params(params.get("weights", {}))
        self.cos_a = float(params["cosface"]["a"])  # defaults live in params.yaml (schema: required)
        self.cos_b = float(params["cosface"]["b"])
        self.tune_generator = bool(params.get("tune_generator", False))

        self.G, _ = P.load_generator(cfg, self.device)
        self.G.requires_grad_(self.tune_generator)
        self.E_m = P.build_motion_encoder(cfg, self.device)
        torch.manual_seed(int(params.get("seed", 0)))
        self.M = LinearMapping(self.n, 512).to(self.device)
        need = self.weights.active()
        self.D = P.load_arcface(cfg, self.device) if "id" in need else None
        self.lpips = (P.load_lpips(cfg, params.get("lpips_net", "alex"), self.device)
                      if {"lpips", "lpips_crop"} & set(need) else None)
        self.store = None
        ldir = Path(latents_dir) if latents_dir else Path(cfg["paths"]["data"]) / "latents" / "psp"
        if (ldir / "index.parquet").is_file():
            from petra.latents.store import LatentStore

            self.store = LatentStore(ldir)
        self._inverter = None

    # --- contract -----------------------------------------------------------------
    def trainable_parameters(self) -> Iterable[nn.Parameter]:
        params = list(self.E_m.parameters()) + list(self.M.parameters())
        if self.tune_generator:
            params += list(self.G.parameters())
        return params

    def train(self, mode: bool = True) -> StyleGAN2Recipe:
        self.E_m.train(mode)
        self.M.train(mode)
        self.G.train(False)  # no BN/dropout; noise is fixed (randomize_noise=False)
        return self

    def state_dict(self) -> dict[str, dict[str, Any]]:
        """Named parts with plain key names (DDP wrappers unwrapped), so any setup loads them."""
        parts = {"E_m": _bare(self.E_m).state_dict(), "M": _bare(self.M).state_dict()}
        if self.tune_generator:
            parts["G"] = _bare(self.G).state_dict()
        return parts

    def load_state_dict(self, parts: Mapping[str, Mapping[str, Any]]) -> None:
        _bare(self.E_m).load_state_dict(parts["E_m"])
        _bare(self.M).load_state_dict(parts["M"])
        if "G" in parts:
            _bare(self.G).load_state_dict(parts["G"])

    def step(self, batch: PairBatch) -> dict[str, torch.Tensor]:
        return self._terms(batch)

    @torch.no_grad()
    def validate(self, batch: PairBatch) -> dict[str, float]:
        return {k: float(v) for k, v in self._terms(batch).items()}

    def wrap_ddp(self, device_ids: list[int] | None) -> None:
        """DistributedDataParallel over the trained modules (torchrun; not exercised on CPU CI)."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        self.E_m = DDP(self.E_m, device_ids=device_ids)
        self.M = DDP(self.M, device_ids=device_ids)
        if self.tune_generator:
            self.G = DDP(self.G, device_ids=device_ids)

    # --- the forward pass --------------------------------------------------------
    def identity_codes(self, images: torch.Tensor, rows: list[dict[str, Any]] | None) -> torch.Tensor:
        """E_i: stored ReStyle W+ by aligned_path, else inverted now. → [N, n, 512]."""
        if rows is not None and self.store is not None and all(r["aligned_path"] in self.store for r in rows):
            return self.store.get([r["aligned_path"] for r in rows]).to(self.device)
        if self._inverter is None:
            from .latents import ReStyleInverter

            self._inverter = ReStyleInverter(self.cfg, "psp", self.device)
        return self._inverter.invert_tensor(images).to(self.device)

    def motion(self, x: torch.Tensor) -> torch.Tensor:
        """E_m on a crop batch resized to the encoder input → W+ [N, n, 512]."""
        return self.E_m(P.resize(x, self.enc_size))

    def render(self, w_plus: torch.Tensor, size: int) -> torch.Tensor:
        img, _ = self.G([w_plus], input_is_latent=True, randomize_noise=False)
        return P.resize(img, size)

    def generate(self, s: torch.Tensor, w_t: torch.Tensor) -> torch.Tensor:
        """g = G(M(E_m(s) ⊕ w_t)) at s's resolution."""
        return self.render(self.M(self.motion(s), w_t), s.shape[-1])

    def _terms(self, batch: PairBatch) -> dict[str, torch.Tensor]:
        s_A, s_R = batch["s_A"], batch["s_R"]
        size = s_A.shape[-1]
        rows = getattr(batch, "rows", {}) or {}
        w_tA = self.identity_codes(batch["t_A"], rows.get("t_A"))
        w_tR = self.identity_codes(batch["t_R"], rows.get("t_R")) if {"id", "cos"} & set(self.weights.active()) else None
        m_sA = self.motion(s_A)
        g_AA = self.render(self.M(m_sA, w_tA), size)
        active = self.weights.active()
        g_AR = self.render(self.M(m_sA, w_tR), size) if {"id", "cos"} & set(active) else None
        terms = L.reconstruction_terms(g_AA, s_A, self.weights, self.lpips)
        if "id" in active:
            with torch.no_grad():
                ref = self.render(w_tR, size)
            terms["id"] = L.identity_loss(lambda x: P.arcface_embed(self.D, x), ref, g_AR)
        if "cos" in active:
            terms["cos"] = L.cosface_motion_loss(
                m_sA, [self.motion(g_AA), self.motion(g_AR)], self.motion(s_R), self.cos_a, self.cos_b
            )
        terms["total"] = L.weighted_total(terms, self.weights)
        return terms


def _bare(m: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (or the module itself)."""
    return getattr(m, "module", m)


def build(cfg: Mapping[str, Any], params: Mapping[str, Any], device: Any = "cpu") -> StyleGAN2Recipe:
    return StyleGAN2Recipe(cfg, params, device)
