"""Content types by content, not only by file name.

Practice software exports DICOM files named "IMG0001" or "1.2.840..." with no extension; Outlook
and PACS viewers pick the viewer by the Content-Type, so it must come from the bytes.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

SNIFF_BYTES = 132

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
)

# Types we trust from the name alone when the bytes say nothing (plain text has no magic).
_NAME_ONLY_TYPES = {"text/plain", "text/csv", "application/xml", "text/xml"}


def sniff_content_type(head: bytes, filename: str = "") -> str:
    """The MIME type for a file starting with ``head`` (its first 132 bytes or more)."""
    if len(head) >= SNIFF_BYTES and head[128:132] == b"DICM":
        return "application/dicom"  # RFC 3240: DICOM Part 10 file with its 128-byte preamble
    for magic, content_type in _SIGNATURES:
        if head.startswith(magic):
            return content_type
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    if guessed in _NAME_ONLY_TYPES:
        return guessed
    return "application/octet-stream"


def sniff_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return sniff_content_type(handle.read(SNIFF_BYTES), path.name)
