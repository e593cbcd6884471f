"""The one configuration: params.yaml, its profiles and its JSON schema.

``params.yaml`` holds the defaults (the ``sample`` profile) at the top level, so DVC
reads it as a plain params file, and a ``profiles:`` mapping whose entries are deep-
merged over the defaults when that profile is selected (``--profile`` on the CLI,
``--config profile=...`` in Snakemake). Snakemake and ``petra`` both validate the
resolved dictionary against ``workflow/schemas/params.schema.yaml``.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import PetraError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PARAMS = PROJECT_ROOT / "params.yaml"
SCHEMA_PATH = PROJECT_ROOT / "workflow" / "schemas" / "params.schema.yaml"


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``over`` merged in; mappings merge, everything else replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve(raw: Mapping[str, Any], profile: str | None = None) -> dict[str, Any]:
    """Apply a profile's overrides to the defaults and validate the result."""
    profiles = raw.get("profiles", {}) or {}
    name = profile or raw.get("profile", "sample")
    if name not in profiles and name != raw.get("profile", "sample"):
        raise PetraError(f"params: unknown profile {name!r}; known: {sorted(profiles)}")
    cfg = deep_merge({k: v for k, v in raw.items() if k != "profiles"}, profiles.get(name, {}) or {})
    cfg["profile"] = name
    validate(cfg)
    return cfg


def load(path: str | Path | None = None, profile: str | None = None) -> dict[str, Any]:
    """Read params.yaml (or ``$PETRA_PARAMS``) and resolve ``profile`` (or ``$PETRA_PROFILE``)."""
    path = Path(path or os.environ.get("PETRA_PARAMS") or _default_params())
    if not path.is_file():
        raise PetraError(f"{path}: params file not found")
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise PetraError(f"{path}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise PetraError(f"{path}: not a params file (a YAML mapping)")
    return resolve(raw, profile or os.environ.get("PETRA_PROFILE"))


def _default_params() -> Path:
    """params.yaml of the current directory (a Snakemake/DVC run), else of the checkout."""
    here = Path("params.yaml")
    return here if here.is_file() else DEFAULT_PARAMS


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as enforced: every object with ``properties`` rejects unknown keys, and a
    ``variants`` entry may hold only keys of the section it varies (typed like them).

    Done here rather than written out in the YAML so a new key cannot be forgotten:
    a misspelt key anywhere (also inside a variant) is an error naming key and section.
    """
    schema = copy.deepcopy(schema)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for v in node.values():
                close(v)
        elif isinstance(node, list):
            for v in node:
                close(v)

    sections = schema["properties"]
    loop = {k: v for k, v in sections["train"]["properties"].items() if k not in ("variants", "weights", "cosface",
                                                                                    "lpips_net", "tune_generator")}
    if "train_mesh" in sections:
        sections["train_mesh"]["properties"]["train"] = {"type": "object", "properties": copy.deepcopy(loop)}
    for name in ("train", "train_mesh"):
        if name not in sections:
            continue
        props = {k: v for k, v in sections[name]["properties"].items() if k != "variants"}
        sections[name]["properties"]["variants"] = {
            "type": "object",
            "additionalProperties": {"type": ["object", "null"], "properties": copy.deepcopy(props)}}
    close(schema)
    return schema


def validate(cfg: Mapping[str, Any]) -> None:
    """Check a resolved config against the (strict) JSON schema; raise one readable line."""
    import jsonschema

    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        schema = strict_schema(yaml.safe_load(fh))
    try:
        jsonschema.validate(dict(cfg), schema)
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "<root>"
        section = str(err.absolute_path[0]) if err.absolute_path else "<root>"
        raise PetraError(f"params: section {section}: {where}: {err.message}") from None


def data_path(cfg: Mapping[str, Any], *parts: str) -> Path:
    """A path under the profile's data folder (``paths.data``)."""
    return Path(cfg["paths"]["data"]).joinpath(*parts)


def reports_path(cfg: Mapping[str, Any], *parts: str) -> Path:
    """A path under the profile's reports folder (``paths.reports``)."""
    return Path(cfg["paths"]["reports"]).joinpath(*parts)
