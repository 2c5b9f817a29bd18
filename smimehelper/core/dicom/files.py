"""Checks on a file the user named, before it is opened: a FIFO or a device would block or
never end, a folder is not a file."""

from __future__ import annotations

import stat
from pathlib import Path

from ..errors import InputFileError


def require_regular_file(path: Path) -> Path:
    """``path`` if it is a regular file (symlinks followed); InputFileError saying what it is."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputFileError(f"{path} does not exist.") from None
    except PermissionError:
        raise InputFileError(f"{path} cannot be read (permission denied).") from None
    except OSError as exc:
        raise InputFileError(f"{path} cannot be read: {exc.strerror}.") from None
    if stat.S_ISDIR(mode):
        raise InputFileError(f"{path} is a folder, not a DICOM file.")
    if not stat.S_ISREG(mode):
        raise InputFileError(f"{path} is not a regular file (a device or a pipe); give a DICOM file.")
    return path
