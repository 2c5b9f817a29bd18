from __future__ import annotations

import pytest

from smimehelper.core.mime.sniff import sniff_content_type


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b"\0" * 128 + b"DICM" + b"\x02\x00", "1.2.840.113619.2.55", "application/dicom"),
        (b"\0" * 128 + b"DICM", "scan.jpg", "application/dicom"),  # content beats the name
        (b"\xff\xd8\xff\xdb" + b"\0" * 10, "IMG", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 10, "x", "image/png"),
        (b"II*\x00" + b"\0" * 10, "x", "image/tiff"),
        (b"MM\x00*" + b"\0" * 10, "x", "image/tiff"),
        (b"%PDF-1.4\n", "Befund", "application/pdf"),
        (b"PK\x03\x04" + b"\0" * 10, "study", "application/zip"),
        (b"PK\x05\x06" + b"\0" * 18, "empty.zip", "application/zip"),
        (b"hello", "notes.txt", "text/plain"),
        (b"\x00\x01\x02", "photo.jpg", "application/octet-stream"),  # the name alone is not trusted
        (b"", "empty", "application/octet-stream"),
        (b"\0" * 127 + b"DICM", "short", "application/octet-stream"),
    ],
)
def test_types_come_from_content(head: bytes, name: str, expected: str) -> None:
    assert sniff_content_type(head, name) == expected
