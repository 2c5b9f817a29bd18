"""One message in one process's hands: an exclusive lock on a file in the message's folder.

Every sender (``send``, ``compose --send``, ``outbox retry``, the desktop app's Outbox and
Compose) takes the lock of a message before it reads its state, and keeps it until the outcome
is written. The lock is ``flock`` on POSIX and ``msvcrt.locking`` on Windows: the operating
system releases it when its holder dies, even by kill -9 or a power cut, so a crashed sender
never blocks a message and the next run knows that a message marked "sending" whose lock is
free was interrupted. ``flock`` locks belong to the open file, so two threads of one process
(the app's Outbox and Compose) exclude each other too.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

POLL_SECONDS = 0.05

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)


class FileLock:
    """A held lock; release it with ``release()`` or by leaving the ``with`` block."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            _unlock(fd)
            os.close(fd)

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:  # a forgotten lock must not outlive its object
        self.release()


def try_lock(path: Path) -> FileLock | None:
    """The lock of ``path`` if nobody holds it, else None. Raises FileNotFoundError when the
    folder of ``path`` is gone (the message was removed)."""
    # os.open descriptors are not inherited by child processes (PEP 446): a mail program we
    # start never keeps a message locked after we are gone.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not _try(fd):
            os.close(fd)
            return None
        if sys.platform != "win32":  # who holds it, for "being sent by process N" (POSIX only)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    return FileLock(path, fd)


def lock(path: Path, wait: float) -> FileLock | None:
    """The lock of ``path``, waiting up to ``wait`` seconds for its holder to finish."""
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        held = try_lock(path)
        if held is not None or time.monotonic() >= deadline:
            return held
        time.sleep(POLL_SECONDS)


def holder(path: Path) -> int | None:
    """The process id written by the current holder (POSIX), if it can be read."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None
