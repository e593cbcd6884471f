"""Official models loaded from the weight registry for a profile: file resolution + the model zoo.

:mod:`petra.models` holds the networks and their official-key loaders (no config);
:mod:`petra.weights` knows the files (no models). This module joins the two for the
code that has a resolved config: training losses, evaluators, generators. The smoke
profile's tiny random-weight files (``stylegan2.smoke_weights``) resolve here too.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from petra import weights
from petra.errors import MissingWeightsError
from petra.io import sha256_file, verified
from petra.paths import smoke_weights_dir

SMOKE_FILES = {
    "generator": "smoke_stylegan2_{size}.pt",
    "restyle_psp": "smoke_restyle_psp_{size}.pt",
    "restyle_e4e": "smoke_restyle_e4e_{size}.pt",
    "arcface": "smoke_model_ir_se50.pth",
    "opengraphau": "smoke_OpenGprahAU-{opengraphau}_first_stage.pth",  # evaluation's AU model (FAU-CORR)
}


def smoke_file(cfg: Mapping[str, Any], key: str) -> Path:
    extra = {"opengraphau": opengraphau_backbone(cfg)} if key == "opengraphau" else {}
    name = SMOKE_FILES[key].format(size=cfg["stylegan2"]["size"], **extra)
    return smoke_weights_dir(cfg) / name


def opengraphau_backbone(cfg: Mapping[str, Any]) -> str:
    return str(cfg["evaluate"]["opengraphau"]["backbone"])


def registry_name(cfg: Mapping[str, Any], key: str) -> str:
    """Weight-registry name of ``key``: ``stylegan2.weights.<key>``, or the configured OpenGraphAU backbone."""
    if key == "opengraphau":
        return f"opengraphau_{opengraphau_backbone(cfg)}"
    return str(cfg["stylegan2"]["weights"][key])


def weight_file(cfg: Mapping[str, Any], key: str) -> tuple[Path, str | None]:
    """(path, sha256) of the weight ``key`` (generator, restyle_psp, restyle_e4e, arcface; opengraphau)."""
    sg = cfg["stylegan2"]
    if sg.get("smoke_weights"):
        path = smoke_file(cfg, key)
        if not verified(path):  # missing, or not what its sidecar accepts
            raise MissingWeightsError(f"{path}: smoke weight missing; run `petra smoke-weights --profile {cfg['profile']}`")
        return path, sha256_file(path)
    path, sha = weights.require(cfg, registry_name(cfg, key), with_sha=True)
    return Path(path), sha


def load_lpips(cfg: Mapping[str, Any] | None, net: str = "alex") -> Any:
    """LPIPS with the converted real weights of this profile (MissingWeightsError: run
    ``petra weights --offline-assets``)."""
    from petra.models.lpips import load_lpips as _load  # lazy: torch only when a model is built

    return _load(net, weights.require(cfg, f"lpips_{net}"), weights.entry(f"lpips_{net}").content_sha256)
