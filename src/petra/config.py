"""The one configuration: params.yaml, its profiles and its JSON schema.

``params.yaml`` holds the defaults (the ``sample`` profile) at the top level, so DVC
reads it as a plain params file, and a ``profiles:`` mapping whose entries are deep-
merged over the defaults when that profile is selected (``--profile`` on the CLI,
``--config profile=...`` in Snakemake). Snakemake and ``petra`` both validate the
resolved dictionary against ``workflow/schemas/params.schema.yaml``.

Runs anywhere: the repo's params.yaml and schema are the one source; a built wheel
carries copies of them in ``petra/defaults/`` (setup.py's build hook), so an installed
petra has its defaults without a checkout. A user's params file (``--params``,
``$PETRA_PARAMS`` or ./params.yaml) is merged over those defaults, and ``--set
section.key=value`` overrides single values last; all of it is validated strictly.

:func:`load` returns the plain dict (Snakemake's config, what DVC reads); :func:`load_params`
gives the same values as the frozen, typed dataclasses of :mod:`petra.params` (generated from
the schema), and :func:`build` types one section, a missing key taking its params.yaml value.
"""
from __future__ import annotations

import collections.abc
import contextlib
import copy
import dataclasses
import functools
import os
import types
import typing
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping, Sequence, TypeVar

import yaml

from petra.errors import PetraError
from petra.params import Params

T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_SHIPPED = Path(__file__).resolve().parent / "defaults"  # present in a built wheel only


def _shipped(name: str, repo_path: Path) -> Path:
    """The packaged copy of a repo file in an installed wheel, else the checkout's file (the source)."""
    return _SHIPPED / name if (_SHIPPED / name).is_file() else repo_path


DEFAULT_PARAMS = _shipped("params.yaml", PROJECT_ROOT / "params.yaml")
SCHEMA_PATH = _shipped("params.schema.yaml", PROJECT_ROOT / "workflow" / "schemas" / "params.schema.yaml")
_ACTIVE_SETS: tuple[str, ...] = ()  # the CLI's --set overrides, applied by every load() while it runs


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``over`` merged in; mappings merge, everything else replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise PetraError(f"{path}: params file not found")
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise PetraError(f"{path}: not valid YAML{where}") from None
    if not isinstance(raw, Mapping):
        raise PetraError(f"{path}: not a params file (a YAML mapping of sections)")
    return dict(raw)


def defaults() -> dict[str, Any]:
    """The packaged defaults (the repo's params.yaml), profiles included, unresolved."""
    return copy.deepcopy(_defaults_top())


def resolve(raw: Mapping[str, Any], profile: str | None = None,
            base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Merge ``raw`` over the defaults (``base``; None: the packaged ones), apply the profile, validate.

    Layers, last wins: defaults, the defaults' profile, ``raw``, ``raw``'s profile -- so a
    user's value beats the packaged profile's, and a full copy of the defaults changes nothing.
    """
    base = defaults() if base is None else base
    layers = [dict(base), dict(raw)]
    profiles = {k for layer in layers for k in (layer.get("profiles") or {})}
    name = profile or raw.get("profile") or base.get("profile", "sample")
    if name not in profiles and name != base.get("profile", "sample"):
        raise PetraError(f"params: unknown profile {name!r}; known: {sorted(profiles)}")
    cfg: dict[str, Any] = {}
    for layer in layers:
        cfg = deep_merge(cfg, {k: v for k, v in layer.items() if k != "profiles"})
        cfg = deep_merge(cfg, (layer.get("profiles") or {}).get(name) or {})
    cfg["profile"] = name
    validate(cfg)
    return cfg


def load(path: str | Path | None = None, profile: str | None = None,
         overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The packaged defaults, the user's params file merged over them, then ``overrides``.

    The user's file is ``path``, else ``$PETRA_PARAMS``, else ./params.yaml if there is one
    (none at all is fine: the defaults alone). ``profile`` (or ``$PETRA_PROFILE``) selects a
    profile; ``overrides`` are ``section.key=value`` strings (:func:`apply_sets`), after the
    CLI's ``--set`` ones.
    """
    given = path or os.environ.get("PETRA_PARAMS")
    user_path = Path(given) if given else _default_params()
    if user_path is None or user_path.resolve() == DEFAULT_PARAMS.resolve():
        user = {}  # none, or the checkout's own params.yaml: that *is* the defaults
    else:
        user = _read(user_path)
    cfg = resolve(user, profile or os.environ.get("PETRA_PROFILE"))
    sets = (*_ACTIVE_SETS, *overrides)
    if sets:
        cfg = apply_sets(cfg, sets)
    return cfg


def apply_sets(cfg: Mapping[str, Any], sets: Sequence[str]) -> dict[str, Any]:
    """``cfg`` with each ``section.key[.sub]=value`` applied (value parsed as YAML), re-validated.

    A key the schema does not know is refused in one line naming it and its section.
    """
    schema = _schema()
    out = copy.deepcopy(dict(cfg))
    for item in sets:
        dotted, sep, text = item.partition("=")
        keys = [k for k in dotted.strip().split(".") if k]
        if not sep or not keys:
            raise PetraError(f"params: --set {item!r}: expected section.key=value")
        node, props, where = out, schema.get("properties", {}), []
        for i, key in enumerate(keys):
            if key not in props:
                sec = ".".join(where) or "the top level"
                raise PetraError(f"params: --set {dotted}: unknown key {key!r} in {sec} "
                                 f"(known: {', '.join(sorted(props))})")
            where.append(key)
            if i == len(keys) - 1:
                node[key] = yaml.safe_load(text) if text.strip() else None
            else:
                if not isinstance(node.get(key), dict):
                    node[key] = {}
                node, props = node[key], props[key].get("properties", {})
    validate(out)
    return out


@contextlib.contextmanager
def active_sets(sets: Sequence[str]) -> Iterator[None]:
    """Within the block every :func:`load` applies ``sets`` (how the CLI's ``--set`` reaches each stage)."""
    global _ACTIVE_SETS
    before, _ACTIVE_SETS = _ACTIVE_SETS, tuple(sets)
    try:
        yield
    finally:
        _ACTIVE_SETS = before


def _default_params() -> Path | None:
    """params.yaml of the current directory (a Snakemake/DVC run, a user's folder), if any."""
    here = Path("params.yaml")
    return here if here.is_file() else None


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
                                                                                    "lpips_net", "tune_generator", "sg2")}
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


def _schema() -> dict[str, Any]:
    """The strict schema (re-read when the file changes: tests may swap files). Do not modify it."""
    return _strict_schema_of(*_stamp(SCHEMA_PATH))


def _stamp(path: Path) -> tuple[str, int, int]:
    """A cache key that changes when the file does: (path, mtime, size)."""
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=4)
def _strict_schema_of(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return strict_schema(yaml.safe_load(fh))


def _defaults_top() -> dict[str, Any]:
    """The packaged params.yaml as read (re-read when it changes). Do not modify it."""
    return _defaults_of(*_stamp(DEFAULT_PARAMS))


@functools.lru_cache(maxsize=4)
def _defaults_of(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    return _read(Path(path))


def validate(cfg: Mapping[str, Any]) -> None:
    """Check a resolved config against the (strict) JSON schema; raise one readable line."""
    import jsonschema  # deferred: only checking needs it

    err = jsonschema.exceptions.best_match(_validator_of(*_stamp(SCHEMA_PATH)).iter_errors(dict(cfg)))
    if err is not None:  # the error jsonschema.validate would raise
        where = "/".join(str(p) for p in err.absolute_path) or "<root>"
        section = str(err.absolute_path[0]) if err.absolute_path else "<root>"
        raise PetraError(f"params: section {section}: {where}: {err.message}")


@functools.lru_cache(maxsize=4)
def _validator_of(path: str, mtime_ns: int, size: int) -> Any:
    """The strict schema's validator, the schema itself checked once per file version (as
    ``jsonschema.validate`` does on every call: 95% of its time)."""
    import jsonschema  # deferred: only checking needs it

    schema = _strict_schema_of(path, mtime_ns, size)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


# ---------------------------------------------------------------- the typed config (petra.params)

def load_params(path: str | Path | None = None, profile: str | None = None,
                overrides: Sequence[str] = ()) -> Params:
    """:func:`load` as the typed, frozen :class:`petra.params.Params` (``load`` itself stays a plain
    dict: Snakemake and DVC read that)."""
    return build(Params, load(path, profile, overrides))


def build(cls: type[T], data: Mapping[str, Any] | None = None, fill: bool = True, where: str | None = None) -> T:
    """``data`` (the params section ``cls.SECTION``; the whole config for Params) as the frozen dataclass ``cls``.

    ``fill``: a missing key takes params.yaml's value (the one place defaults live). Every key is
    checked against the strict schema, so an unknown or misspelt key (also inside a variant) or a
    bad value is one line naming the section and the key, worded as :func:`validate` words it.
    A field of ``cls`` that is no params key (a training run's ``variant``) must be in ``data``.
    ``where``: the dotted place errors name when ``data`` is not the section itself but, say, a
    variant's overrides of it (``train_mesh.variants.ours``).
    """
    path = [p for p in cls.SECTION.split(".") if p]  # type: ignore[attr-defined]
    shown = [p for p in where.split(".") if p] if where else path
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    data = dict(data or {})
    if fill:
        default = _at(_defaults_top(), path)
        data = deep_merge({k: v for k, v in default.items() if k in names}, data)
    props = _at(_schema(), path, "properties").get("properties", {})
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise _error(shown + unknown[:1], [], f"unknown key {unknown[0]!r} (known: {', '.join(names)})")
    for key in names:
        if key not in data:
            raise _error(shown + [key], [], "missing (no value here nor in params.yaml)")
        if key in props:
            _check(data[key], props[key], shown + [key])
    return _construct(cls, data)


def _at(tree: Mapping[str, Any], path: Sequence[str], via: str | None = None) -> dict[str, Any]:
    """The node at ``path`` of a params tree (``via="properties"``: of a schema); {} if absent."""
    node: Any = tree
    for key in path:
        node = (node.get(via) if via else node) or {}
        node = node.get(key) or {}
    return dict(node)


def _error(where: Sequence[str], inner: Sequence[Any], message: str) -> PetraError:
    full = [*where, *(str(p) for p in inner)]
    return PetraError(f"params: section {full[0]}: {'/'.join(full)}: {message}")


def _check(value: Any, schema: Mapping[str, Any], where: Sequence[str]) -> None:
    """Validate one value against its (strict) schema node; raise one readable line."""
    import jsonschema  # deferred: only checking needs it

    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(dict(schema)).iter_errors(value))
    if err is not None:
        raise _error(where, list(err.absolute_path), err.message)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _construct(cls: type[T], data: Mapping[str, Any]) -> T:
    hints = _hints(cls)
    return cls(**{f.name: _convert(hints[f.name], data[f.name]) for f in dataclasses.fields(cls)})  # type: ignore


def _convert(hint: Any, value: Any) -> Any:
    """A validated YAML value as the annotation says: nested dataclasses, tuples for lists, floats for numbers."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _construct(hint, value)  # type: ignore[arg-type]
    if origin in (types.UnionType, typing.Union):
        return None if value is None else _convert(next(a for a in args if a is not type(None)), value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value))
    if origin in (collections.abc.Mapping, dict):
        return {k: _convert(args[1], v) for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value if origin is Literal or hint in (int, float, str, bool) else copy.deepcopy(value)
