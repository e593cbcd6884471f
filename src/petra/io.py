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


def _publish(tmp: str, path: Path) -> None:
    """Give the temp file normal permissions (mkstemp makes it 0600), then rename it."""
    os.chmod(tmp, _MODE)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it over ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _publish(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed (checkpoints and clips can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def write_text(path: str | Path, text: str) -> None:
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
    """Write a DataFrame to Parquet atomically, without the pandas index."""
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
