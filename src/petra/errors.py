"""User-facing errors: one line that names the file and the reason."""
from __future__ import annotations

from pathlib import Path


class PetraError(Exception):
    """Base class of every error petra reports to a user as one line."""


class InputError(PetraError):
    """A file the user gave (or a stage met) cannot be used.

    ``str(err)`` is ``"<path>: <reason>"`` so that CLIs print it as is and
    stages store ``reason`` in the rejects table.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class NoFaceError(InputError):
    """No face was found where one was required."""


class MultipleFacesError(InputError):
    """Several faces were found where exactly one was required."""


class MissingWeightsError(PetraError):
    """An optional weight file is not on disk; names the file and where it goes."""


def require_file(path: Path, kind: str) -> None:
    """Raise a one-line :class:`InputError` unless ``path`` is a non-empty file.

    Image and video readers check the same three things before decoding, so a user gets
    the same reasons for both; ``kind`` names what was expected ("an image", "a video").
    """
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        raise InputError(path, f"is a directory, not {kind}")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file")
