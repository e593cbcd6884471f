"""The latents stage: every manifest frame through one backend, in resumable shards.

Frames are the manifest's ``aligned_path`` values, sorted; shard ``i`` holds frames
``[i·S, (i+1)·S)`` (S = ``latents.shard_size``), so an interrupted run resumes at
the first incomplete shard. A frame that cannot be read or encoded gets a rejects
row (path, stage, reason) and the stage goes on. Outputs under
``<paths.data>/latents/<backend>/``: shards, ``index.parquet``, ``rejects.parquet``.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from petra.paths import frames_manifest, latents_dir
from ..errors import InputError
from ..io import clean_temporaries, rejects_frame, write_parquet
from . import store
from petra.media import read_image


def run_latents(
    cfg: Mapping[str, Any],
    backend: str,
    manifest: str | Path | None = None,
    out_dir: str | Path | None = None,
    root: str | Path = ".",
    encoder: Any = None,
    make_encoder: Callable[[], Any] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Encode every manifest frame with ``backend``; returns a summary dict."""
    import pandas as pd
    from tqdm import tqdm


    t0 = time.time()
    manifest = frames_manifest(cfg, manifest)
    out = Path(out_dir or latents_dir(cfg, backend))
    clean_temporaries(out)  # what a killed run left
    keys = sorted(pd.read_parquet(manifest, columns=["aligned_path"])["aligned_path"].unique())
    S = int(cfg["latents"]["shard_size"])
    B = int(cfg["latents"]["batch_size"])
    shards = [keys[i : i + S] for i in range(0, len(keys), S)]
    rejects: list[dict[str, str]] = []
    index_rows: list[dict[str, Any]] = []
    done = skipped = 0
    for si, shard_keys in enumerate(tqdm(shards, desc=f"latents {backend}", unit="shard", disable=None)):
        path = store.shard_path(out, si)
        depends = _shard_depends(cfg, backend, shard_keys, root)
        if store.shard_complete(path, _stored_keys_hint(path, shard_keys), depends):
            kept = store.read_shard(path)["keys"]
            skipped += 1
        else:
            if encoder is None:
                if make_encoder is None:
                    raise ValueError("run_latents needs an encoder or make_encoder (petra.generators.latents_backend)")
                encoder = make_encoder()
            kept, arrays = [], {}
            for b in range(0, len(shard_keys), B):
                imgs, ok = [], []
                for k in shard_keys[b : b + B]:
                    try:
                        imgs.append(read_image(Path(root) / k))
                        ok.append(k)
                    except InputError as err:
                        rejects.append({"path": k, "stage": f"latents:{backend}", "reason": err.reason})
                if not imgs:
                    continue
                try:
                    enc = encoder.encode(imgs)
                except Exception as err:  # noqa: BLE001 - one bad batch must not stop the stage
                    rejects += [{"path": k, "stage": f"latents:{backend}", "reason": f"{type(err).__name__}: {err}"} for k in ok]
                    continue
                kept += ok
                for name, arr in enc.items():
                    arrays.setdefault(name, []).append(np.asarray(arr))
            store.write_shard(path, kept, {k: np.concatenate(v) for k, v in arrays.items()}, depends)
            done += 1
        index_rows += [{"aligned_path": k, "shard": si, "row": r} for r, k in enumerate(kept)]
        rejects += [{"path": k, "stage": f"latents:{backend}", "reason": "not encoded (see earlier run)"}
                    for k in shard_keys if k not in set(kept) and not any(r["path"] == k for r in rejects)]
    write_parquet(out / "rejects.parquet", rejects_frame(rejects))
    write_parquet(out / "index.parquet", pd.DataFrame(index_rows, columns=["aligned_path", "shard", "row"]))
    summary = {"backend": backend, "frames": len(keys), "encoded": len(index_rows), "rejected": len(keys) - len(index_rows),
               "shards_written": done, "shards_reused": skipped, "seconds": round(time.time() - t0, 2)}
    log(f"latents {backend}: {summary['encoded']}/{summary['frames']} frames in {len(shards)} shards "
        f"({done} written, {skipped} reused), {summary['rejected']} rejected, {summary['seconds']} s")
    return summary


def _shard_depends(cfg: Mapping[str, Any], backend: str, keys: list[str], root: str | Path) -> str:
    """What a shard's codes depend on, as one digest: backend, settings and each crop's size + mtime."""
    import hashlib
    import json

    from ..data.layout import fingerprint

    def fp(k: str) -> dict[str, int] | None:
        try:
            return fingerprint(Path(root) / k)
        except OSError:
            return None

    settings = {k: v for k, v in cfg["latents"].items() if k != "device"}
    model = cfg.get("stylegan2") if backend != "mesh" else None
    text = json.dumps({"backend": backend, "latents": settings, "model": model, "sources": [[k, fp(k)] for k in keys]},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _stored_keys_hint(path: Path, shard_keys: list[str]) -> list[str]:
    """A shard may legitimately hold fewer keys (rejected frames); accept a subset in order."""
    try:
        kept = store.read_shard(path)["keys"]
    except InputError:
        return shard_keys
    return kept if set(kept) <= set(shard_keys) and kept == [k for k in shard_keys if k in set(kept)] else shard_keys
