"""Atomic file writing and the rejects table shared by every per-item stage.

Every writer in petra goes through :func:`atomic_write` (house rule 10): the data
is written to a temporary name in the destination folder and ``os.replace``-d into
place, so an interrupted run never leaves a truncated output behind.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator, Sequence

import numpy as np

REJECT_COLUMNS = ("path", "stage", "reason")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()


def _publish(tmp: str | Path, path: Path) -> None:
    """Give the temp file normal permissions (mkstemp makes it 0600), then rename it."""
    os.chmod(tmp, _MODE)
    os.replace(tmp, path)


# Temporaries are named ``.<name>.petra-<pid>-<random>.tmp<suffix>``: the pid says whose they
# are, so a later run removes only those whose writer is gone (never a live run's, never a
# file petra did not make).
_TEMP = re.compile(r"^\.(?P<name>.+)\.petra-(?P<pid>\d+)-[A-Za-z0-9_]{8}\.tmp(?P<suffix>\.[^.]*)?$")


def _temp_file(path: Path) -> tuple[int, str]:
    """Create the temporary file for ``path`` (same folder, so the rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=f".{path.name}.petra-{os.getpid()}-", suffix=f".tmp{path.suffix}",
                            dir=path.parent)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def is_stale_temporary(name: str, of: str | None = None) -> bool:
    """True for a temporary of petra's own naming whose writer process is gone.

    ``of``: only temporaries of this output file name.
    """
    m = _TEMP.match(name)
    if not m or (of is not None and m.group("name") != of):
        return False
    return not _alive(int(m.group("pid")))


def clean_temporaries(folder: str | Path, of: str | None = None, recursive: bool = False) -> list[Path]:
    """Remove what killed writers left in ``folder`` (petra's own temporaries only); returns them.

    An atomic write never exposes its temporary, but SIGKILL (or a power cut) skips the
    clean-up; the next run calls this before writing there.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    walk = os.walk(folder) if recursive else [(str(folder), [], [e.name for e in os.scandir(folder)])]
    for root, _, files in walk:
        for f in files:
            if is_stale_temporary(f, of):
                p = Path(root, f)
                with contextlib.suppress(FileNotFoundError):
                    if p.is_file() and not p.is_symlink():
                        p.unlink()
                        removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it over ``path`` on success."""
    path = Path(path)
    fd, tmp = _temp_file(path)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _publish(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path for writers that want a file name (cv2, ffmpeg, torch.save).

    The suffix is kept so that format-sniffing writers (``cv2.imwrite``) still work.
    """
    path = Path(path)
    fd, tmp = _temp_file(path)
    os.close(fd)
    try:
        yield Path(tmp)
        _publish(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sidecar(path: str | Path) -> Path:
    """The ``<file>.sha256`` beside a checkpoint or shard."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def sidecar_digests(path: str | Path) -> list[str]:
    """Digests the sidecar of ``path`` accepts (first = current; empty when it is missing)."""
    side = sidecar(path)
    if not side.is_file():
        return []
    return [line.split()[0] for line in side.read_text(encoding="utf-8").splitlines() if line.strip()]


def verified(path: str | Path) -> bool:
    """True when ``path`` exists and its sha256 is one its sidecar accepts."""
    digests = sidecar_digests(path)
    return bool(digests) and Path(path).is_file() and sha256_file(path) in digests


@contextlib.contextmanager
def atomic_path_with_sidecar(path: str | Path) -> Iterator[Path]:
    """Like :func:`atomic_path`, and the ``.sha256`` sidecar changes together with the file.

    Two renames cannot be one atomic step, so the sidecar first accepts both the old and the
    new digest, then the file is renamed, then the sidecar keeps only the new digest: a kill
    at any point leaves a file its sidecar accepts (never a checkpoint "corrupt" for good).
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        yield tmp
        new = sha256_file(tmp)
        accepted = [new] + [d for d in (sidecar_digests(path) if path.is_file() else []) if d != new]
        write_text(sidecar(path), "".join(f"{d}  {path.name}\n" for d in accepted))
    write_text(sidecar(path), f"{new}  {path.name}\n")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed (checkpoints and clips can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _clear_stale(path: str | Path) -> None:
    """Remove what killed writers of this very file left beside it (a table or record is rewritten by
    the rerun of the stage that was killed; without this its temporary stayed forever). Only for the
    few-per-folder tables and records: a scan of the folder per write."""
    path = Path(path)
    clean_temporaries(path.parent, of=path.name)


def write_text(path: str | Path, text: str) -> None:
    _clear_stale(path)
    with atomic_write(path, "w") as fh:
        fh.write(text)


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def write_parquet(path: str | Path, df: "pd.DataFrame") -> None:  # noqa: F821
    """Write a DataFrame to Parquet atomically, without the pandas index (and without what a killed
    earlier write of it left)."""
    _clear_stale(path)
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_image(path: str | Path, rgb: np.ndarray, quality: int = 95) -> None:
    """Write an RGB uint8 image (PNG or JPEG by suffix) atomically."""
    import cv2

    with atomic_path(path) as tmp:
        params = [cv2.IMWRITE_JPEG_QUALITY, quality] if tmp.suffix.lower() in (".jpg", ".jpeg") else []
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(rgb[..., ::-1]), params):
            raise OSError(f"{path}: cv2 could not write the image")


def rejects_frame(rows: Sequence[dict[str, Any]] = ()) -> "pd.DataFrame":  # noqa: F821
    """A rejects table (path, stage, reason) with a fixed schema, possibly empty."""
    import pandas as pd

    df = pd.DataFrame(list(rows), columns=list(REJECT_COLUMNS))
    return df.astype({c: "string" for c in REJECT_COLUMNS})


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what C++ libraries print straight to fd 2 (MediaPipe/TFLite start-up chatter).

    Python exceptions raised inside still propagate; only the native noise that would
    bury petra's one-line messages is dropped.
    """
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
