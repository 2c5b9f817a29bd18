"""Saving received attachments safely.

A file name in a message is chosen by the sender: it may contain folders ("../../.bashrc"),
Windows device names ("CON", "aux.txt"), control characters or be empty. The name is cleaned,
an existing file is never overwritten (a suffix is added), and the file is written privately
(0600) and atomically.
"""

from __future__ import annotations

import mimetypes
import os
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from .atomic import atomic_writer
from .errors import InputFileError

_DEVICE_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
# Control characters (C0, DEL, C1) and reserved characters; Bidi controls can disguise an
# extension ("invoice\u202efdp.exe" shows as "invoiceexe.pdf").
_UNSAFE = re.compile('[\x00-\x1f\x7f-\x9f<>:"/\\\\|?*\u200e\u200f\u202a-\u202e\u2066-\u2069]')
_EDGES = re.compile(r"^[\s.]+|[\s.]+$")
MAX_NAME_BYTES = 200


def safe_filename(name: str | None, content_type: str, index: int) -> str:
    """A name that is one plain file in the target folder on Linux, macOS and Windows."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]  # drop any folder part
    name = _EDGES.sub("", _UNSAFE.sub("_", name))  # Windows drops trailing dots and spaces
    if name in ("", ".", ".."):
        extension = mimetypes.guess_extension(content_type) or ".bin"
        name = f"attachment-{index}{extension}"
    stem, dot, suffix = name.partition(".")
    if stem.upper() in _DEVICE_NAMES:
        name = f"_{name}"
    while len(name.encode("utf-8")) > MAX_NAME_BYTES:
        stem, suffix = os.path.splitext(name)
        name = stem[:-1] + suffix if len(stem) > 1 else name[: MAX_NAME_BYTES // 4]
    return _EDGES.sub("", name) or f"attachment-{index}"


def save_unique(directory: Path, name: str, chunks: Iterable[bytes], first_number: int = 0) -> Path:
    """Write ``chunks`` to ``directory/name`` or ``name (1)``, ... never replacing a file.

    ``first_number`` skips names the caller already used, so many equal names stay linear.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputFileError(f"Cannot create the folder {directory}: {exc.strerror}.") from None
    stem, suffix = os.path.splitext(name)
    for number in range(first_number, first_number + 10_000):
        candidate = directory / (name if number == 0 else f"{stem} ({number}){suffix}")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise InputFileError(f"Cannot save {candidate}: {exc.strerror}.") from None
        os.close(fd)  # the name is reserved; now fill it atomically
        try:
            with atomic_writer(candidate) as out:
                for chunk in chunks:
                    out.write(chunk)
        except BaseException:
            candidate.unlink(missing_ok=True)
            raise
        return candidate
    raise InputFileError(f"Too many files named {name} in {directory}.")
