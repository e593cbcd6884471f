"""Ingest sources (mirror, VoxCeleb2 tree, URL list with sha256), caps, and the identity split."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from petra.data import ingest
from petra.data.manifest import split_identities
from petra.errors import InputError


def touch(p: Path, data: bytes = b"x") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def test_voxceleb2_tree_official_split_and_cap_by_youtube_video(tmp_path):
    for split, ident, yts in [("dev", "id00012", ["a", "b", "c"]), ("test", "id00017", ["q"])]:
        for yt in yts:
            for utt in ("00001", "00002"):
                touch(tmp_path / split / "mp4" / ident / yt / f"{utt}.mp4")
    rows = ingest.scan_voxceleb2(tmp_path)
    assert len(rows) == 8
    assert {r["official_split"] for r in rows if r["identity"] == "id00017"} == {"test"}
    capped = ingest.cap_per_identity(rows, max_videos=2, max_identities=None)
    # the cap counts YouTube videos, and keeps all their utterances
    assert sorted(r["video"] for r in capped if r["identity"] == "id00012") == [
        "id00012/a/00001", "id00012/a/00002", "id00012/b/00001", "id00012/b/00002"]
    assert "_group" not in capped[0]


def test_cap_identities_and_videos_on_the_mirror(sample_root):
    rows = ingest.scan_mirror(sample_root)
    assert len({r["identity"] for r in rows}) >= 80
    capped = ingest.cap_per_identity(rows, max_videos=1, max_identities=6)
    assert len(capped) == 6 and len({r["identity"] for r in capped}) == 6
    assert [r["identity"] for r in capped] == sorted(r["identity"] for r in capped)


def test_url_list_fetch_checks_sha256(tmp_path, http_dir):
    served, base = http_dir
    touch(served / "a.mp4", b"video bytes")
    touch(served / "b.mp4", b"other bytes")
    sha = hashlib.sha256(b"video bytes").hexdigest()
    lst = tmp_path / "urls.tsv"
    lst.write_text("# comment\nurl\tsha256\tidentity\n"
                   f"{base}/a.mp4\t{sha}\tidA\n{base}/b.mp4\t{sha}\tidB\n"
                   f"{base}/missing.mp4\t{sha}\tidC\n")
    rejects: list[dict] = []
    rows = ingest.download_list(ingest.read_url_list(lst), tmp_path / "dl", rejects)
    assert [r["identity"] for r in rows] == ["idA"]
    assert Path(rows[0]["path"]).read_bytes() == b"video bytes"
    reasons = sorted(r["reason"].split(" (")[0] for r in rejects)
    assert reasons == ["download failed", "sha256 mismatch"]
    assert not list((tmp_path / "dl").rglob(".*tmp*"))  # failed downloads leave nothing behind


def test_sample_url_list_covers_the_mirror(sample_root):
    listed = ingest.read_url_list(ingest.SAMPLE_SOURCES)
    assert len(listed) == len(ingest.scan_mirror(sample_root))
    first = listed[0]
    assert first["url"].startswith("https://") and len(first["sha256"]) == 64
    assert ingest.sha256_file(sample_root / first["local_path"]) == first["sha256"]


def test_voxceleb2_without_root_or_urls_is_a_clear_error(tmp_path):
    cfg = {"dataset": {"source": "voxceleb2", "root": str(tmp_path / "nope"), "url_list": None},
           "paths": {"data": str(tmp_path)}}
    with pytest.raises(InputError, match="VoxCeleb2 root not found"):
        ingest.list_source(cfg, [])


def test_split_is_identity_disjoint_deterministic_and_seeded():
    ids = [f"id{i:04d}" for i in range(86)]
    fr = {"train": 0.7, "val": 0.1, "test": 0.2}
    a, b = split_identities(ids, fr, 0), split_identities(list(reversed(ids)), fr, 0)
    assert a == b  # order of discovery does not matter
    counts = {s: sum(v == s for v in a.values()) for s in ("train", "val", "test")}
    assert counts == {"train": 60, "val": 9, "test": 17}
    assert split_identities(ids, fr, 1) != a
    small = split_identities(["a", "b", "c"], fr, 0)
    assert sorted(small.values()) == ["test", "train", "val"]


def test_official_test_identities_stay_in_test():
    ids = [f"id{i:02d}" for i in range(20)]
    official = {i: ("test" if i < "id05" else "dev") for i in ids}
    s = split_identities(ids, {"train": 0.7, "val": 0.1, "test": 0.2}, 0, official)
    assert {i for i, v in s.items() if v == "test"} == {i for i in ids if i < "id05"}
    assert sum(v == "val" for v in s.values()) >= 1
