"""``petra ingest``: list the dataset's clips per identity (the DAG's checkpoint)."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Mapping

from ._common import rel, summary
from petra.io import rejects_frame, write_parquet
from petra.config import load
from petra.paths import ingest_rejects, listing

if TYPE_CHECKING:
    import pandas as pd


def configure(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults()


def run_ingest(cfg: Mapping[str, Any]) -> "pd.DataFrame":
    """Write ``<data>/raw/videos.parquet`` (usable clips) and ``raw/rejects.parquet``."""
    import pandas as pd

    from ..data import ingest
    from ..data.layout import shard_of

    rejects: list[dict[str, str]] = []
    rows = ingest.list_source(cfg, rejects)
    rows = ingest.cap_per_identity(rows, cfg["ingest"]["max_videos_per_identity"], cfg["dataset"].get("identities"))
    rows = ingest.probe_rows(rows, rejects)
    order = {ident: k for k, ident in enumerate(sorted({r["identity"] for r in rows}))}
    per = cfg["ingest"].get("identities_per_shard", 8)
    for r in rows:
        r["path"] = rel(r["path"])
        r["shard"] = shard_of(order[r["identity"]], per)
    df = pd.DataFrame(rows, columns=ingest.LISTING_COLUMNS)
    df = df.astype({"shard": "string", "identity": "string", "video": "string", "path": "string", "source": "string",
                    "official_split": "string"})
    for r in rejects:
        r["path"] = rel(r["path"]) if "://" not in r["path"] else r["path"]
    write_parquet(ingest_rejects(cfg), rejects_frame(rejects))
    write_parquet(listing(cfg), df)
    summary("ingest", identities=df["identity"].nunique(), shards=df["shard"].nunique(), videos=len(df), rejected=len(rejects))
    return df


def main(args: argparse.Namespace) -> int:

    run_ingest(load(args.params, args.profile))
    return 0
