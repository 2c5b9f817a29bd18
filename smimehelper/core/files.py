"""Reading the files a user names: only ordinary files, never more than expected.

Where a file is expected, a user (or a script) can pass anything the file system has: a folder,
``/dev/zero`` (never ends), a FIFO without a writer (``open`` blocks for ever), a terminal, a
socket. Every file argument goes through :func:`open_regular` or :func:`read_regular_file`:
the path is opened without blocking, checked to be a regular file, and small files are read
with a cap, so bad input is a clear error instead of a hang or a process eating all memory.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from .errors import InputFileError

# Opening never blocks (a FIFO without a writer) and never makes a terminal ours.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def kind_of(mode: int) -> str:
    """What a non-regular file is, in plain words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not an ordinary file"


def with_article(what: str) -> str:
    """"an attachment", "a message file"."""
    return ("an " if what[:1].lower() in "aeiou" else "a ") + what


def _not_regular(path: Path, mode: int, what: str) -> InputFileError:
    kind = kind_of(mode)
    if kind == "a folder":
        return InputFileError(f"{path} is a folder, not {with_article(what)}. Give the file itself.")
    return InputFileError(
        f"{path} is {kind}, but {with_article(what)} is needed here: an ordinary, saved file."
    )


def _os_error(path: Path, what: str, exc: OSError) -> InputFileError:
    if isinstance(exc, FileNotFoundError):
        return InputFileError(f"The {what} {path} does not exist. Check the name.")
    if isinstance(exc, PermissionError):
        return InputFileError(f"The {what} {path} cannot be read (permission denied).")
    if isinstance(exc, IsADirectoryError):
        return InputFileError(f"{path} is a folder, not {with_article(what)}. Give the file itself.")
    if exc.errno == errno.ENXIO:  # open() of a socket, or of a device without its driver
        return InputFileError(f"{path} is not an ordinary file, but {with_article(what)} is needed here: an ordinary, saved file.")
    return InputFileError(f"The {what} {path} cannot be read: {exc.strerror or exc}.")


def open_regular(path: Path, what: str) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file (symbolic links are followed).

    ``what`` names what was expected ("certificate file", "attachment") for the error
    messages. The caller closes the returned file.
    """
    path = Path(path)
    try:
        before = os.stat(path)
        if not stat.S_ISREG(before.st_mode):
            raise _not_regular(path, before.st_mode, what)
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _os_error(path, what, exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # replaced between the check and the open
            raise _not_regular(path, info.st_mode, what)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_file(path: Path, what: str, limit: int) -> bytes:
    """The whole content of a small regular file, refused if it holds more than ``limit`` bytes.

    The cap is on the bytes actually read, not on the size announced, so a file that grows
    while it is read cannot make us read without end either.
    """
    path = Path(path)
    with open_regular(path, what) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise _os_error(path, what, exc) from None
    if len(data) > limit:
        raise InputFileError(
            f"{path} is too large to be {with_article(what)} (more than {_size_text(limit)}). Check that it is the right file."
        )
    return data


def regular_size(path: Path, what: str) -> int:
    """The size of ``path`` after checking that it is a regular file (without reading it)."""
    with open_regular(path, what) as handle:
        return os.fstat(handle.fileno()).st_size


def _size_text(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.0f} MB"
    if count >= 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count} bytes"
