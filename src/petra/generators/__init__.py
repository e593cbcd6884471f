"""The generator registry: every method name is parsed here, once, into a :class:`Method`.

A *method* turns (target crop, driving crop) into an output crop: the thesis's
``g = G(M(E_m(s) ⊕ E_i(t)))`` for the trained variants, a hand-made transfer
(``mesh-relative``), a latent-arithmetic baseline (``sg2-baseline-psp``) or a
reference row (``copy-target`` / ``copy-driving``). All images are aligned RGB
uint8 crops, H×W×3, of the profile's ``align.size``.

A method name is ``<prefix>-<variant>``; the prefix names the generator
(:data:`GENERATORS`), the variant is either one of the generator's fixed methods
(hand-made, baseline, reference, pretrained: a downloaded network, e.g. the
thesis's released ``sg2-thesis-released``) or a key of its trained variants in params.yaml
(``<section>.variants``, the one place the variant list lives). The CLI, the
Snakemake rules (common.smk), evaluation, selection and the report all call
:func:`parse` / :func:`create` / :func:`all_methods`; nothing else splits names.

A generator is a package with ``build_method(method, cfg, checkpoint=None)`` and,
when it trains, ``prepare_training(cfg, method, manifest, log) -> (params, recipe,
manifest)`` and ``train_rule(cfg, method) -> {inputs, params}``; with pretrained
methods, ``pretrained_rule(cfg, method) -> {inputs, weights, params}``; optional
``LATENTS`` (backend name -> "module:factory(cfg, device)"). A new generator is its
folder, one :func:`register` call below, and its params section.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from petra import weights
from petra.errors import PetraError

Kind = Literal["reference", "handmade", "baseline", "pretrained", "trained"]


class Reenactor(Protocol):
    """One method, stateful over one (target, driving video) pair."""

    name: str

    def set_target(self, target: np.ndarray) -> None:
        """E_i: encode the identity image once (the 0.5 s inversion of the thesis)."""

    def set_reference(self, driving0: np.ndarray) -> None:
        """Remember the driving video's first frame (relative motion); may be a no-op."""

    # Optional: ``set_clip(frames: Sequence[np.ndarray]) -> None`` — see the whole driving
    # clip before driving it (e.g. to measure motion against the driver's neutral face over
    # the clip rather than its first frame, as ``petra transfer`` does). The evaluation
    # calls it after set_reference when a method has it; drive() then gets those frames.

    def drive(self, driving: np.ndarray) -> np.ndarray:
        """Render the target with the motion of ``driving``; returns an RGB uint8 crop."""


@dataclass(frozen=True)
class Generator:
    """What the registry knows of a generator without importing it (torch stays unloaded)."""

    name: str                       # generator.name in params.yaml
    prefix: str                     # method names are "<prefix>-<variant>"
    package: str                    # import path of the generator's package
    fixed: Mapping[str, Kind] = field(default_factory=dict)  # variant -> kind, no training needed
    variants_at: tuple[str, ...] | None = None  # params path of the trained variants, e.g. ("train", "variants")
    latents: Mapping[str, str] = field(default_factory=dict)  # latents backend -> "module:factory"
    weights_of: Mapping[str, str] = field(default_factory=dict)  # pretrained variant -> weight-registry name

    def trained_variants(self, cfg: Mapping[str, Any] | None) -> list[str]:
        if cfg is None or self.variants_at is None:
            return []
        node: Any = cfg
        for key in self.variants_at:
            node = (node or {}).get(key) if isinstance(node, Mapping) else None
        return list(node or {})


@dataclass(frozen=True)
class Method:
    """A parsed method name: which generator renders it, what kind it is, which variant."""

    name: str
    generator: str
    kind: Kind
    variant: str

    @property
    def trained(self) -> bool:
        return self.kind == "trained"


GENERATORS: dict[str, Generator] = {}


def register(gen: Generator) -> Generator:
    """Add a generator (tests register toy ones); prefixes must be unique."""
    clash = [g.name for g in GENERATORS.values() if g.prefix == gen.prefix and g.name != gen.name]
    if clash:
        raise ValueError(f"method prefix {gen.prefix!r} already used by generator {clash[0]!r}")
    GENERATORS[gen.name] = gen
    return gen


def unregister(name: str) -> None:
    GENERATORS.pop(name, None)


register(Generator("reference", "copy", "petra.generators.reference",
                   fixed={"target": "reference", "driving": "reference"}))
register(Generator("mesh", "mesh", "petra.generators.mesh",
                   fixed={"relative": "handmade", "absolute": "handmade"}, variants_at=("train_mesh", "variants"),
                   latents={"mesh": "petra.generators.mesh.fit:mesh_backend"}))
register(Generator("stylegan2", "sg2", "petra.generators.stylegan2",
                   fixed={"baseline-psp": "baseline", "baseline-e4e": "baseline", "thesis-released": "pretrained"},
                   variants_at=("train", "variants"),
                   latents={"psp": "petra.generators.stylegan2.latents:psp_backend",
                            "e4e": "petra.generators.stylegan2.latents:e4e_backend"},
                   weights_of={"thesis-released": "thesis_released"}))


def generator(name: str) -> Generator:
    if name not in GENERATORS:
        raise PetraError(f"params: unknown generator {name!r}; registered: {sorted(GENERATORS)}")
    return GENERATORS[name]


def parse(name: str, cfg: Mapping[str, Any] | None = None) -> Method:
    """``"mesh-ours-cos"`` → Method(name, "mesh", "trained", "ours-cos").

    With ``cfg`` a trained variant must exist in the generator's params; without it any
    non-fixed variant parses as trained (the rules' wildcards are checked with cfg).
    """
    prefix, _, variant = str(name).partition("-")
    gen = next((g for g in GENERATORS.values() if g.prefix == prefix), None)
    if gen is None or not variant:
        raise PetraError(f"unknown method {name!r}; methods are <prefix>-<variant> with prefix one of "
                         f"{sorted(g.prefix for g in GENERATORS.values())}")
    if variant in gen.fixed:
        return Method(name, gen.name, gen.fixed[variant], variant)
    if gen.variants_at is None or (cfg is not None and variant not in gen.trained_variants(cfg)):
        known = list(gen.fixed) + gen.trained_variants(cfg)
        where = ".".join(gen.variants_at) if gen.variants_at else "its fixed methods"
        raise PetraError(f"unknown method {name!r}: generator {gen.name} has {[f'{prefix}-{v}' for v in known]} "
                         f"(trained variants come from params {where})")
    return Method(name, gen.name, "trained", variant)


def methods_of(gen_name: str, cfg: Mapping[str, Any] | None) -> list[str]:
    gen = generator(gen_name)
    return [f"{gen.prefix}-{v}" for v in [*gen.fixed, *gen.trained_variants(cfg)]]


def all_methods(cfg: Mapping[str, Any]) -> list[str]:
    """Every method the profile can build: reference rows + every generator's methods."""
    return [m for g in GENERATORS for m in methods_of(g, cfg)]


def trained_methods(cfg: Mapping[str, Any], gen_name: str | None = None) -> list[str]:
    gens = [generator(gen_name)] if gen_name else list(GENERATORS.values())
    return [f"{g.prefix}-{v}" for g in gens for v in g.trained_variants(cfg)]


def evaluated_methods(cfg: Mapping[str, Any]) -> list[str]:
    """``evaluate.methods`` when given, else the reference rows + the profile generator's methods
    (a pretrained one only when its weight file is present)."""
    listed = (cfg.get("evaluate") or {}).get("methods")
    if listed:
        for m in listed:
            parse(m, cfg)  # one line naming the bad name
        return list(listed)
    return methods_of("reference", cfg) + [m for m in methods_of(cfg["generator"]["name"], cfg) if available(m, cfg)]


def available(name: str, cfg: Mapping[str, Any]) -> bool:
    """False for a pretrained method whose weight file is not on disk (it is then evaluated only when listed)."""
    m = parse(name, cfg)
    if m.kind != "pretrained":
        return True
    return weights.present(cfg, generator(m.generator).weights_of[m.variant])


def package(method: Method | str) -> Any:
    """The generator package behind a method (imported on demand: it may pull in torch)."""
    m = method if isinstance(method, Method) else parse(method)
    return importlib.import_module(generator(m.generator).package)


def create(name: str | Method, cfg: Mapping[str, Any], checkpoint: Any = None) -> Reenactor:
    """Build the method ``name`` from the resolved config (``checkpoint``: a trained method's file)."""
    m = name if isinstance(name, Method) else parse(name, cfg)
    return package(m).build_method(m, cfg, checkpoint=checkpoint)


def latents_backend(name: str, cfg: Mapping[str, Any], device: Any = "cpu") -> Any:
    """The latents backend ``name`` (psp, e4e, mesh …) of whichever generator declares it."""
    for gen in GENERATORS.values():
        if name in gen.latents:
            module, func = gen.latents[name].split(":")
            return getattr(importlib.import_module(module), func)(cfg, device)
    known = sorted(b for g in GENERATORS.values() for b in g.latents)
    raise PetraError(f"unknown latents backend {name!r}; known: {known}")


def method_params(name: str | Method, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The config a method's outputs depend on besides the evaluators: the evaluate rule's params
    (a change reruns it) and the params its MLflow runs carry (nothing the method never reads)."""
    m = name if isinstance(name, Method) else parse(name, cfg)
    if m.kind == "reference":
        return {}
    if m.trained:
        return package(m).train_rule(cfg, m)["params"]  # the params its run read
    if m.kind == "pretrained":
        return package(m).pretrained_rule(cfg, m)["params"]
    if m.generator == "stylegan2":
        return {"baseline": cfg.get("baseline"), "stylegan2": cfg.get("stylegan2")}
    return {"mesh": {k: v for k, v in (cfg.get("mesh") or {}).items() if k != "method"}}  # method: transfer's default
