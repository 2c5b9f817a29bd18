"""Versioned JSON documents written atomically with 0600.

Every stored file carries ``schema`` and ``kind`` so that a later version can migrate it and a
file put in the wrong place is recognised instead of misread.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .atomic import AtomicBatch, problem_text, write_atomic
from .errors import InputFileError, StoreError

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


def read_document(path: Path, kind: str, schema: int) -> dict[str, Any] | None:
    """The document at ``path``, or None when there is none yet."""
    try:
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise InputFileError(f"{path} is far too large to be a smimehelper file.")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(
            f"The smimehelper file {path} is damaged ({type(exc).__name__}). Restore it from a "
            "backup or remove it."
        ) from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        raise InputFileError(f"{path} is not a smimehelper {kind} file.")
    if not isinstance(data.get("schema"), int) or data["schema"] > schema:
        raise InputFileError(
            f"{path} was written by a newer smimehelper (format {data.get('schema')}); update smimehelper."
        )
    return data


def encode_document(kind: str, schema: int, body: dict[str, Any]) -> bytes:
    document = {"kind": kind, "schema": schema, **body}
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def write_document(path: Path, kind: str, schema: int, body: dict[str, Any], *, batch: AtomicBatch | None = None) -> None:
    """Write one document atomically (or, with ``batch``, when the batch commits)."""
    data = encode_document(kind, schema, body)
    if batch is not None:
        batch.make_dirs(path.parent)
        batch.write(path, data)
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, data)


def save_document(path: Path, kind: str, schema: int, body: dict[str, Any], *, what: str = "") -> None:
    """:func:`write_document` for a change the user asked for: a full or read-only data folder
    becomes a :class:`StoreError` that says so (the file is then unchanged)."""
    try:
        write_document(path, kind, schema, body)
    except OSError as exc:
        raise store_error(path, exc, what) from None


def store_error(path: Path, exc: OSError, what: str = "") -> StoreError:
    """A failed change of the data folder, in words; nothing was changed by then."""
    folder = path.parent
    action = what or "The change was not saved"
    return StoreError(
        f"{action}: smimehelper cannot write to its data folder {folder} ({problem_text(exc)}). "
        "Nothing was changed. Free some disk space or make the folder writable, then try again."
    )
