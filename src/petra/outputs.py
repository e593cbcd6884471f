"""Checks on an output path, made before any work: petra never replaces an input.

A user command calls :func:`check_output` with every input it reads. The output must not
be any input (``os.path.samefile``: also through ``../`` aliases, symbolic and hard
links), must not be a folder, a device or a read-only file, and its folder must be
writable (probed by creating and removing a petra temporary there, which also catches
read-only file systems and a root user's ACLs). Each refusal is one
:class:`~petra.errors.InputError` naming the output and the reason.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable

from .errors import InputError


def _existing_ancestor(path: Path) -> Path:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        if parent.is_symlink():  # a dangling link: its target folder is missing
            break
        parent = parent.parent
    return parent


def check_output(out: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Raise :class:`InputError` unless ``out`` can be written without touching an input."""
    import tempfile

    out = Path(out)
    if out.exists():
        st = out.stat()
        if stat.S_ISDIR(st.st_mode):
            raise InputError(out, "is a folder; give a file name for the output")
        if not stat.S_ISREG(st.st_mode):
            raise InputError(out, "exists and is not a regular file (a device, pipe or socket); refusing to replace it")
        for inp in inputs:
            inp = Path(inp)
            if inp.exists() and os.path.samefile(out, inp):
                raise InputError(out, f"is the input {inp}; refusing to overwrite an input (choose another output)")
        if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            raise InputError(out, "is a read-only file; refusing to replace it")
    elif out.is_symlink():
        raise InputError(out, "is a broken symbolic link; refusing to replace it")
    parent = _existing_ancestor(out)
    if not parent.is_dir():
        what = "a file" if parent.exists() else "missing"
        raise InputError(out, f"cannot create the output: {parent} is {what}, not a folder")
    try:  # a real probe: permission bits do not tell a root user or a read-only mount
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.petra-{os.getpid()}-", suffix=".tmp", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise InputError(out, f"folder {parent} is not writable ({err.strerror or err})") from None
    return out
