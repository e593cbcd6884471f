"""What the per-identity data stages share: identity selection, CLI args, summaries."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..errors import PetraError
from petra.paths import listing

if TYPE_CHECKING:
    import pandas as pd


def add_identity_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shard", action="append", default=None,
                        help="process only this shard of identities (repeatable; default: all)")
    parser.add_argument("--identity", action="append", default=None,
                        help="process only the shard(s) holding this identity (repeatable)")


def read_listing(cfg: Mapping[str, Any]) -> "pd.DataFrame":
    import pandas as pd


    path = listing(cfg)
    if not path.is_file():
        raise PetraError(f"{path}: no video listing; run `petra ingest` first")
    return pd.read_parquet(path)


def identities(cfg: Mapping[str, Any], wanted: Sequence[str] | None = None) -> list[str]:
    """The identities in the listing (``wanted`` checked against it), sorted."""
    known = sorted(set(read_listing(cfg)["identity"]))
    if not wanted:
        return known
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise PetraError(f"unknown identities {unknown}: not in the ingest listing")
    return list(wanted)


def shards(cfg: Mapping[str, Any], shard: Sequence[str] | None = None,
           identity: Sequence[str] | None = None) -> dict[str, list[str]]:
    """shard → its identities: the chosen shards, the shards of chosen identities, or all."""
    df = read_listing(cfg)
    groups: dict[str, list[str]] = {}
    for sh, ident in sorted(set(zip(df["shard"], df["identity"]))):
        groups.setdefault(sh, []).append(ident)
    wanted = set(shard or [])
    if identity:
        identities(cfg, identity)
        wanted |= {sh for sh, ids in groups.items() if set(ids) & set(identity)}
    if not shard and not identity:
        return groups
    unknown = wanted - set(groups)
    if unknown:
        raise PetraError(f"unknown shards {sorted(unknown)}: not in the ingest listing")
    return {sh: groups[sh] for sh in sorted(wanted)}


def summary(stage: str, **counts: Any) -> str:
    """The one-line summary each stage prints (also parsed by nothing: for people)."""
    parts = ", ".join(f"{k}={v}" for k, v in counts.items())
    line = f"petra {stage}: {parts}"
    print(line, file=sys.stderr)
    return line


def rel(path: str | Path) -> str:
    """Paths stored in tables: relative to the working directory (the project root)."""
    import os

    return os.path.relpath(path)
