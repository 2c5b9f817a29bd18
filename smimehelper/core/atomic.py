"""Atomic, private file writes.

A message, an identity or a contact list is either completely written or not there at all: a
crash, a full disk or an error half-way leaves the previous file (or nothing) in place, never a
truncated one that a mail program would show as "damaged".
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

PRIVATE_MODE = 0o600


@contextlib.contextmanager
def atomic_writer(target: Path, mode: int = PRIVATE_MODE) -> Iterator[BinaryIO]:
    """Yield a binary file beside ``target``; on normal exit it is fsynced and renamed over it.

    The temporary file lives in the target's directory so that ``os.replace`` is a same-file-system
    rename. On any exception the temporary file is removed and the target is untouched.
    """
    target = Path(target)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb", buffering=0) as raw:
            yield raw  # type: ignore[misc]
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, target)
        _fsync_directory(directory)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_atomic(target: Path, data: bytes, mode: int = PRIVATE_MODE) -> None:
    """Write ``data`` to ``target`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(target, mode) as out:
        out.write(data)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; not all platforms allow opening a directory."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
