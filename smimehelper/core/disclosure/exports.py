"""Writing an export file: atomically, 0600 (it holds patient data), with clear errors."""

from __future__ import annotations

import stat
from pathlib import Path

from ..atomic import write_atomic
from ..errors import InputFileError


def write_export(target: Path, data: bytes) -> Path:
    target = Path(target)
    try:
        info = target.stat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise InputFileError(f"Cannot write {target}: {exc.strerror}.") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise InputFileError(f"{target} is a folder; give a file name such as {target / 'accounting.pdf'}.")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise InputFileError(f"{target} is not a regular file (a device or a pipe); give a file name to write.")
    if not target.parent.is_dir():
        raise InputFileError(f"The folder {target.parent} does not exist; create it or choose another place.")
    try:
        write_atomic(target, data)
    except OSError as exc:
        raise InputFileError(f"Cannot write {target}: {exc.strerror}. Nothing was written.") from None
    return target
