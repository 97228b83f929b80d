"""Atomic file writes: a temporary file in the destination's folder, fsynced, renamed over it;
and folders held by one writer at a time."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows: folders are not locked
    fcntl = None

LOCK_NAME = ".irlax.lock"


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Write `path` with `write(file)` so that it is either complete or untouched.

    An interrupted write leaves any previous file intact and no temporary file behind.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """`atomic_write` of UTF-8 text."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_write_json(path: str | os.PathLike, data, **dumps_options) -> None:
    """`atomic_write` of `data` as indented JSON (`json.dumps` options may be added)."""
    atomic_write_text(path, json.dumps(data, indent=2, **dumps_options) + "\n")


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold `folder` (made if missing) for one writer at a time.

    The lock is an advisory `flock` on `folder/.irlax.lock`, released when the holder leaves
    the block or its process ends, however it ends (a killed run leaves no stale lock). A
    folder the block made and left empty is removed again.

    Raises:
        ValueError: naming the folder, when another process holds it.
    """
    folder = Path(folder)
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_NAME
    try:
        with open(lock, "a+b") as handle:
            if fcntl is not None:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    made = False  # the holder's folder
                    raise ValueError(
                        f"{folder} is in use by another irlax run; wait for it to end or "
                        "choose another output folder"
                    ) from None
            yield folder
    finally:
        if made and [p.name for p in folder.iterdir()] == [LOCK_NAME]:
            # A run refused before it wrote anything leaves no folder behind.
            lock.unlink()
            folder.rmdir()
