"""Helpers for the model-zoo fixture tests: read a fixture, rebuild its weights, compare.

Each fixture in ../shared/fixtures comes from the official code run with the recipe
weights of :mod:`petra.models.recipe`; a test builds petra's module, checks its key list
and the recipe's sha256 against the JSON, loads the weights with strict=True and
compares the outputs at the JSON's tolerance.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from petra.models.recipe import recipe_state_dict, state_dict_sha256

MEASURED: dict[str, float] = {}  # fixture/output -> max abs error (printed with -s)


def load_fixture(fixtures_dir: Path, name: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    meta = json.loads((fixtures_dir / f"{name}.json").read_text())
    expected = torch.load(fixtures_dir / f"{name}.pt", map_location="cpu", weights_only=True)
    return meta, expected


def key_list(module: torch.nn.Module) -> list[list[Any]]:
    return [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in sorted(module.state_dict().items())]


def fill_like_fixture(module: torch.nn.Module, meta: dict[str, Any],
                      overrides: Sequence[tuple[str, str]] = ()) -> dict[str, torch.Tensor]:
    """Assert keys/shapes equal the official ones; build, hash-check and strictly load recipe weights."""
    assert key_list(module) == meta["state_dict_keys"], "state_dict keys/shapes differ from the official model"
    sd = recipe_state_dict(module.state_dict(), overrides)
    assert state_dict_sha256(sd) == meta["weight_recipe"]["state_dict_sha256_of_raw_bytes_in_sorted_key_order"]
    module.load_state_dict(sd, strict=True)
    return sd


def image_input(expected: dict[str, torch.Tensor], key: str = "input_uint8") -> torch.Tensor:
    return expected[key].float() / 127.5 - 1.0


def close(tag: str, actual: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float) -> None:
    """assert_close at the fixture's tolerance; remembers the max error for the report."""
    MEASURED[tag] = float((actual.detach().float() - expected.float()).abs().max())
    torch.testing.assert_close(actual.detach().float(), expected.float(), atol=atol, rtol=rtol)


def tol(meta: dict[str, Any], key: str) -> tuple[float, float]:
    t = meta["recommended_tolerance"][key]
    return float(t["atol"]), float(t["rtol"])
