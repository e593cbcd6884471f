"""User-facing errors: one line that names the file and the reason."""
from __future__ import annotations

import os
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


class Terminated(KeyboardInterrupt):
    """SIGTERM/SIGHUP raised as an exception, so clean-ups run as they do for Ctrl-C (SIGINT).

    A subclass of KeyboardInterrupt: every ``except KeyboardInterrupt`` and ``finally`` that
    handles an interrupt handles this too. The exit status is 128 + the signal number.
    """

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def os_error_line(err: OSError) -> str:
    """An OS error as ``"<file>: <reason>"`` (the file the OS named, else the bare reason)."""
    reason = err.strerror or str(err) or type(err).__name__
    files = [str(f) for f in (err.filename, err.filename2) if f is not None]
    return f"{' -> '.join(files)}: {reason}" if files else reason


def require_file(path: Path, kind: str) -> None:
    """Raise a one-line :class:`InputError` unless ``path`` is a non-empty file.

    Image and video readers check the same three things before decoding, so a user gets
    the same reasons for both; ``kind`` names what was expected ("an image", "a video").
    """
    if not path.exists():
        raise InputError(path, "file not found" if not path.is_symlink() else "broken symbolic link")
    if path.is_dir():
        raise InputError(path, f"is a directory, not {kind}")
    if not path.is_file():
        raise InputError(path, f"not a regular file (a device, pipe or socket), not {kind}")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file")
    if not os.access(path, os.R_OK):
        raise InputError(path, "not readable (permission denied)")
