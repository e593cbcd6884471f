"""The thesis recipe on StyleGAN2: g = G(M(E_m(s) ⊕ E_i(t))), E_i and G frozen.

Two settings (:class:`SG2Options`, from the variant's ``train.sg2`` and ``train.cosface``):
the released code's behaviour (default) and the thesis text's values (variant ``ours-text``).

| part | released code (default) | thesis text (``ours-text``) |
|---|---|---|
| E_m | ``BackboneEncoderUsingLastLayerIntoWPlus`` | pSp ``GradualStyleEncoder`` |
| M | [E_i, E_m], weights 1e-5, bias 1e-3 | [E_m, E_i], starts as "keep E_i(t)" |
| crop losses | rows 55:243, cols 32:220 | rows 35:223, cols 32:220 |
| ID loss input | whole image pooled to 112 | pSp's 35:223 crop pooled to 112 |
| CosFace | s=5 on all four similarities (the margin cancels) | a=5, b=0.2 on the positive only |
| G noise | random per render (reproducible from (seed, step)) | the generator's fixed buffers |

Parts (:mod:`petra.generators.stylegan2.parts`): E_m (trained; ``tiny`` for CI), M =
:class:`petra.models.mapping.LinearMapping` (trained), E_i = ReStyle-pSp W+ precomputed by
``petra latents`` (looked up by aligned_path; inverted on the fly for frames without a
stored code), G = StyleGAN2 (frozen; trained too when ``tune_generator``, the ``gen``
variant), D = ArcFace IR-SE50 (frozen), LPIPS (frozen).

One step (thesis §3.2, released ``coach.calc_loss``), images at the training resolution:

* g_AA = G(M(E_m(s_A) ⊕ E_i(t_A))), g_AR = G(M(E_m(s_A) ⊕ E_i(t_R)));
* l2 / lpips (+ ``_crop``) between g_AA and s_A;
* id = 1 − cos(D(G(E_i(t_R))), D(g_AR)) (the output must stay R);
* cos = CosFace(anchor E_m(s_A); E_m(g_AA), E_m(g_AR); negatives against E_m(s_R)).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from petra import config
from petra.generators.stylegan2 import parts as P
from petra.params import TrainCosface, TrainSg2
from petra.train import losses as L
from petra.train.sampler import PairBatch
from petra import paths


@dataclass(frozen=True)
class SG2Options:
    """The StyleGAN2 recipe's settings of one variant: its ``train.sg2`` and ``train.cosface`` (values: params.yaml)."""

    motion_encoder: str     # last_layer (released) | gradual (thesis text)
    mapping_order: str      # identity_first (released) | motion_first
    mapping_init: str       # released (1e-5 / 1e-3) | identity_residual | default
    crop: L.Box             # crop-loss box (rows, cols) at 256 px
    id_input: str           # whole (released) | psp_crop
    noise: str              # random (released) | fixed
    cosface: str            # released | text
    cos_a: float            # CosFace scale (released s)
    cos_b: float            # CosFace margin (released m = 2; in the released form it cancels)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SG2Options:
        """From a variant's params (typed and checked; a missing key takes params.yaml's value)."""
        sg, cos = config.build(TrainSg2, params.get("sg2")), config.build(TrainCosface, params.get("cosface"))
        return cls(sg.motion_encoder, sg.mapping.order, sg.mapping.init, sg.crop, sg.id_input, sg.noise,
                   cos.form, cos.a, cos.b)


class StyleGAN2Recipe:
    """Implements the :class:`~petra.train.recipe.Recipe` contract for the StyleGAN2 generator."""

    def __init__(self, cfg: Mapping[str, Any], params: Mapping[str, Any], device: Any = "cpu",
                 latents_dir: str | Path | None = None) -> None:
        from petra.models.mapping import LinearMapping

        self.cfg, self.params, self.device = cfg, params, torch.device(device)
        sg = cfg["stylegan2"]
        self.n = P.n_latent(sg["size"])
        self.enc_size = int(sg["encoder_input"])
        self.weights = L.LossWeights.from_params(params.get("weights"))
        self.o = SG2Options.from_params(params)
        self.seed = int(params.get("seed", 0))
        self.tune_generator = bool(params.get("tune_generator", False))

        self.G, _ = P.load_generator(cfg, self.device)
        self.G.requires_grad_(self.tune_generator)
        self.E_m = P.build_motion_encoder(cfg, self.o.motion_encoder, self.device)
        torch.manual_seed(self.seed)
        self.M = LinearMapping(self.n, 512, order=self.o.mapping_order, init=self.o.mapping_init).to(self.device)
        need = self.weights.active()
        self.D = P.load_arcface(cfg, self.device) if "id" in need else None
        self.embed_id = P.ID_EMBEDDINGS[self.o.id_input]
        self.lpips = (P.load_lpips(cfg, params.get("lpips_net", "alex"), self.device)
                      if {"lpips", "lpips_crop"} & set(need) else None)
        self.store = None
        ldir = Path(latents_dir) if latents_dir else paths.latents_dir(cfg, "psp")
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
        self.G.train(False)  # no BN/dropout; noise comes from render()
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

    def render(self, w_plus: torch.Tensor, size: int, noise: torch.Generator | None = None) -> torch.Tensor:
        """G(w_plus) resized to ``size``; fresh noise maps from ``noise``, else G's fixed buffers."""
        maps = _bare(self.G).draw_noise(len(w_plus), noise) if noise is not None else None
        img, _ = self.G([w_plus], input_is_latent=True, noise=maps, randomize_noise=False)
        return P.resize(img, size)

    def generate(self, s: torch.Tensor, w_t: torch.Tensor) -> torch.Tensor:
        """g = G(M(E_m(s) ⊕ w_t)) at s's resolution (fixed noise: deterministic inference)."""
        return self.render(self.M(self.motion(s), w_t), s.shape[-1])

    def noise_generator(self, batch: PairBatch) -> torch.Generator | None:
        """Random-noise variants: a generator seeded by (seed, sampler seed, step), so a resumed run
        draws the noise it would have drawn; None for fixed noise."""
        if self.o.noise != "random":
            return None
        key = getattr(batch, "key", None) or (0, 0)
        seed = int(np.random.SeedSequence([self.seed, *(int(k) & 0x7FFFFFFF for k in key)]).generate_state(1)[0])
        return torch.Generator(device=self.device).manual_seed(seed)

    def _terms(self, batch: PairBatch) -> dict[str, torch.Tensor]:
        s_A, s_R = batch["s_A"], batch["s_R"]
        size = s_A.shape[-1]
        rows = getattr(batch, "rows", {}) or {}
        active = self.weights.active()
        cross = bool({"id", "cos"} & set(active))
        gen = self.noise_generator(batch)
        w_tA = self.identity_codes(batch["t_A"], rows.get("t_A"))
        w_tR = self.identity_codes(batch["t_R"], rows.get("t_R")) if cross else None
        m_sA = self.motion(s_A)
        g_AA = self.render(self.M(m_sA, w_tA), size, gen)
        g_AR = self.render(self.M(m_sA, w_tR), size, gen) if cross else None
        terms = L.reconstruction_terms(g_AA, s_A, self.weights, self.lpips, crop=self.o.crop)
        if "id" in active:
            with torch.no_grad():
                ref = self.render(w_tR, size, gen)
            terms["id"] = L.identity_loss(lambda x: self.embed_id(self.D, x), ref, g_AR)
        if "cos" in active:
            outs = (self.motion(g_AA), self.motion(g_AR))
            if self.o.cosface == "released":
                terms["cos"] = L.cosface_released(m_sA, outs, self.motion(s_R), self.o.cos_a, self.o.cos_b)
            else:
                terms["cos"] = L.cosface_motion_loss(m_sA, list(outs), self.motion(s_R), self.o.cos_a, self.o.cos_b)
        terms["total"] = L.weighted_total(terms, self.weights)
        return terms


def _bare(m: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (or the module itself)."""
    return getattr(m, "module", m)


def build(cfg: Mapping[str, Any], params: Mapping[str, Any], device: Any = "cpu") -> StyleGAN2Recipe:
    return StyleGAN2Recipe(cfg, params, device)
