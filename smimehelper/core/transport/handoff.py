"""Hand a finished message to the user's own mail program.

Outlook opens an .eml carrying ``X-Unsent: 1`` as a draft ready to send; Thunderbird, Apple
Mail and every IMAP client show a message appended to the Drafts folder. The encrypted body is
copied byte for byte: only one header line is added.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..atomic import atomic_writer
from ..errors import InputFileError, UserError


def write_draft(message: Path, target: Path) -> Path:
    """A copy of ``message`` with ``X-Unsent: 1`` as its first header."""
    try:
        with open(message, "rb") as src, atomic_writer(target, mode=0o600) as out:
            first = src.read(1 << 16)
            newline = b"\r\n" if b"\r\n" in first[:2000] else b"\n"
            body = first
            if first.lower().startswith(b"x-unsent:"):
                body = first[first.index(b"\n") + 1:]
            out.write(b"X-Unsent: 1" + newline + body)
            while chunk := src.read(1 << 20):
                out.write(chunk)
    except FileNotFoundError:
        raise InputFileError(f"The message {message} does not exist.") from None
    except OSError as exc:
        raise InputFileError(f"Cannot write the draft {target}: {exc.strerror}.") from None
    return target


def open_with_system(path: Path) -> None:
    """Open ``path`` with the program the system uses for .eml files."""
    try:
        if sys.platform == "win32":
            os.startfile(path)  # type: ignore[attr-defined]
        elif sys.platform == "darwin":
            subprocess.run(["open", str(path)], check=True)
        else:
            subprocess.run(["xdg-open", str(path)], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise UserError(f"No program could open {path} ({exc}); open it from your mail program instead.") from None
