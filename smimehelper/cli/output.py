"""Printing for people (default) or programs (--json): one place so every command behaves alike."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def emit_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def warn(text: str) -> None:
    sys.stderr.write(f"Warning: {text}\n")


def error(text: str) -> None:
    sys.stderr.write(f"Error: {text}\n")


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"


_BIDI = {0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def printable(text: str | None, *, multiline: bool = False) -> str:
    """Text from a message, safe for a terminal.

    A sender controls From, Subject, the body and file names: escape sequences in them could
    clear the screen or forge a line such as "Everything checks out." Control characters (and
    Bidi overrides) are shown as visible escapes instead.
    """
    if text is None:
        return ""
    out = []
    for char in text:
        code = ord(char)
        if multiline and char in "\n\t":
            out.append(char)
        elif code < 0x20 or 0x7F <= code <= 0x9F or code in _BIDI:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def print_or_write(data: bytes, output: Path | None, written: str) -> None:
    """Public material (certificates, requests): to stdout, or atomically to ``output`` (0644)."""
    if output is None:
        say(data.decode("ascii").rstrip())
        return
    from ..core.atomic import write_atomic

    write_atomic(output, data, mode=0o644)
    say(written)
