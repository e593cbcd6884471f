"""List the dataset's videos per identity: the sample mirror, a VoxCeleb2 tree, or URLs.

The listing (one row per clip: identity, video, path, source, official_split) is
what every per-identity job reads. Each clip is probed with ffmpeg here, so a file
that is not a usable video becomes an ``ingest`` reject and never reaches a job.
"""
from __future__ import annotations

import csv
import io
import urllib.request
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import InputError
from ..io import sha256_file  # noqa: F401  (re-exported: ingest.sha256_file)
from petra.io import atomic_path
from petra.video import probe
from petra.paths import downloads_dir
from petra.paths import check_identity, safe_name

VIDEO_EXTS = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v")
SAMPLE_SOURCES = Path(__file__).with_name("sample_sources.tsv")
LISTING_COLUMNS = ["shard", "identity", "video", "path", "source", "official_split", "width", "height",
                   "fps", "duration_s", "rotation"]


def _videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTS
                  and not p.name.startswith("."))


def scan_mirror(mirror: Path) -> list[dict[str, Any]]:
    """The sample layout: ``videos/<identity>/*.mp4`` (folder name = identity label)."""
    root = mirror / "videos"
    rows = []
    for ident in sorted(p for p in root.iterdir() if p.is_dir()):
        for vid in _videos_in(ident):
            rows.append({"identity": ident.name, "video": f"{ident.name}/{vid.stem}", "path": str(vid),
                         "source": "mirror", "official_split": None})
    return rows


def scan_voxceleb2(root: Path) -> list[dict[str, Any]]:
    """A VoxCeleb2 tree ``[dev|test/][mp4/]<id>/<youtube id>/<utterance>.mp4``.

    The official identity split is the ``dev``/``test`` folder when present. One row
    per utterance; ``video`` is ``<id>/<youtube id>/<utterance>`` and the per-identity
    cap counts YouTube videos.
    """
    rows = []
    parts = [(s, root / s) for s in ("dev", "test") if (root / s).is_dir()] or [(None, root)]
    for split, base in parts:
        if (base / "mp4").is_dir():
            base = base / "mp4"
        for ident in sorted(p for p in base.iterdir() if p.is_dir()):
            for yt in sorted(p for p in ident.iterdir() if p.is_dir()):
                for utt in _videos_in(yt):
                    rows.append({"identity": ident.name, "video": f"{ident.name}/{yt.name}/{utt.stem}",
                                 "path": str(utt), "source": "voxceleb2", "official_split": split,
                                 "_group": f"{ident.name}/{yt.name}"})
    return rows


def read_url_list(path: Path) -> list[dict[str, str]]:
    """A TSV with columns url, sha256, identity (optional: local_path); '#' lines are comments."""
    text = "".join(line for line in path.read_text(encoding="utf-8").splitlines(True) if not line.startswith("#"))
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    for r in rows:
        if not {"url", "sha256", "identity"} <= set(r):
            raise InputError(path, "URL list needs the columns url, sha256, identity")
    return rows


def fetch(url: str, sha256: str, dest: Path, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` (atomically) unless a file with that sha256 is there."""

    if dest.is_file() and sha256_file(dest) == sha256:
        return dest
    with atomic_path(dest) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
                while block := resp.read(1 << 20):
                    out.write(block)
        except OSError as err:
            raise InputError(url, f"download failed ({err})") from None
        got = sha256_file(tmp)
        if got != sha256:
            raise InputError(url, f"sha256 mismatch (got {got[:12]}…, expected {sha256[:12]}…)")
    return dest


ALLOWED_SCHEMES = ("http", "https")


def download_target(entry: Mapping[str, str], dest_root: Path) -> Path:
    """Where a URL-list entry is saved: ``dest_root/<identity>/<file name>``, checked to stay there.

    The identity must be one folder name and the URL http(s); anything else (``../x``, an
    absolute path, ``file://``) raises InputError naming the URL, before any download.
    """
    from urllib.parse import urlsplit


    url = (entry.get("url") or "").strip()
    if not url or not entry.get("sha256") or not entry.get("identity"):
        raise InputError(url or "<url list>", "incomplete row (needs url, sha256 and identity)")
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise InputError(url, f"only http(s) URLs are downloaded (got {scheme + '://' if scheme else 'no scheme'})")
    ident = check_identity(entry["identity"], url)
    name = safe_name(Path(entry.get("local_path") or urlsplit(url).path).name)
    dest = dest_root / ident / name
    root = dest_root.resolve()
    if not dest.resolve().is_relative_to(root):  # e.g. a symlinked identity folder pointing elsewhere
        raise InputError(url, f"download would land outside {dest_root}")
    return dest


def download_list(entries: Iterable[Mapping[str, str]], dest_root: Path,
                  rejects: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Fetch each URL with its sha256 into ``dest_root/<identity>/``; failures become rejects."""
    rows = []
    for e in entries:
        try:
            dest = download_target(e, dest_root)
            fetch(e["url"], e["sha256"], dest)
        except InputError as err:
            rejects.append({"path": str(e.get("url") or err.path), "stage": "ingest", "reason": err.reason})
            continue
        rows.append({"identity": e["identity"], "video": f"{e['identity']}/{dest.stem}", "path": str(dest),
                     "source": "url", "official_split": None})
    return rows


def cap_per_identity(rows: list[dict[str, Any]], max_videos: int, max_identities: int | None) -> list[dict[str, Any]]:
    """Keep the first ``max_videos`` videos (sorted) of the first ``max_identities`` identities."""
    idents = sorted({r["identity"] for r in rows})
    if max_identities:
        idents = idents[:max_identities]
    keep_ids = set(idents)
    groups: dict[str, list[str]] = {}
    out = []
    for r in sorted(rows, key=lambda r: (r["identity"], r["video"])):
        if r["identity"] not in keep_ids:
            continue
        g = r.get("_group", r["video"])
        seen = groups.setdefault(r["identity"], [])
        if g not in seen:
            if len(seen) >= max_videos:
                continue
            seen.append(g)
        out.append({k: v for k, v in r.items() if k != "_group"})
    return out


def list_source(cfg: Mapping[str, Any], rejects: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Every clip of the configured dataset (before caps and probing), with valid identity labels."""

    rows = []
    for r in _list_source(cfg, rejects):
        try:
            check_identity(r["identity"], r["path"])
        except InputError as err:
            rejects.append({"path": r["path"], "stage": "ingest", "reason": err.reason})
            continue
        rows.append(r)
    return rows


def _list_source(cfg: Mapping[str, Any], rejects: list[dict[str, str]]) -> list[dict[str, Any]]:
    ds = cfg["dataset"]
    src = ds["source"]
    downloads = downloads_dir(cfg)
    if src == "mirror":
        mirror = Path(ds.get("mirror") or "")
        if ds.get("mirror") and (mirror / "videos").is_dir():
            return scan_mirror(mirror)
        # Mirror absent: the same clips from their public URLs, checked by sha256.
        return download_list(read_url_list(SAMPLE_SOURCES), downloads, rejects)
    if src == "voxceleb2":
        if ds.get("root") and Path(ds["root"]).is_dir():
            return scan_voxceleb2(Path(ds["root"]))
        if ds.get("url_list"):
            return download_list(read_url_list(Path(ds["url_list"])), downloads, rejects)
        raise InputError(ds.get("root") or "dataset.root", "VoxCeleb2 root not found and no dataset.url_list given")
    if src == "urls":
        if not ds.get("url_list"):
            raise InputError("dataset.url_list", "source 'urls' needs dataset.url_list")
        return download_list(read_url_list(Path(ds["url_list"])), downloads, rejects)
    raise InputError("dataset.source", f"unknown source {src!r}")


def probe_rows(rows: list[dict[str, Any]], rejects: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Add size/fps/duration/rotation; clips ffmpeg cannot read become ``ingest`` rejects."""
    from tqdm import tqdm


    out = []
    for r in tqdm(rows, desc="ingest: probe", unit="video", disable=None):
        try:
            info = probe(r["path"])
        except InputError as err:
            rejects.append({"path": r["path"], "stage": "ingest", "reason": err.reason})
            continue
        out.append({**r, "width": info.size[0], "height": info.size[1], "fps": info.fps,
                    "duration_s": info.duration, "rotation": info.rotation})
    return out

