"""Printing for people (default) or programs (--json): one place so every command behaves alike."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..core.display import human_size, printable  # noqa: F401  (re-exported for the commands)
from typing import Any


def emit_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def warn(text: str) -> None:
    sys.stderr.write(f"Warning: {text}\n")


def error(text: str) -> None:
    sys.stderr.write(f"Error: {text}\n")




def print_or_write(data: bytes, output: Path | None, written: str) -> None:
    """Public material (certificates, requests): to stdout, or atomically to ``output`` (0644)."""
    if output is None:
        say(data.decode("ascii").rstrip())
        return
    from ..core.atomic import write_atomic

    write_atomic(output, data, mode=0o644)
    say(written)
