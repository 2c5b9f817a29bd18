"""Make packages for tests, and damage them the ways the issue names."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from smimehelper.core.mime.writer import prepare_attachment
from smimehelper.core.package.writer import PackageRequest, PackageResult, write_package

PASSPHRASE = "abacus trident safeness uneasy acre exuberant"
CREATED = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
CHUNK_ELEMENT = re.compile(rb'<script type="application/vnd\.smimehelper\.chunk">\n.*?</script>\n', re.S)


def make_files(folder: Path) -> list[Path]:
    """A multi-chunk binary, an empty file, a PNG, a non-ASCII name and a DICOM x-ray."""
    from smimehelper.demo_xray import write_synthetic_dental_xray

    folder.mkdir(parents=True, exist_ok=True)
    big = folder / "scan.bin"
    big.write_bytes(os.urandom(2 * 1024 * 1024 + 12345))
    empty = folder / "empty.txt"
    empty.write_bytes(b"")
    png = folder / "photo.png"
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 30, 30)).save(png)
    umlaut = folder / "Überweisung Müller.txt"
    umlaut.write_text("Befund: unauffällig\n", encoding="utf-8")
    xray = folder / "bitewing.dcm"
    write_synthetic_dental_xray(xray)
    return [big, empty, png, umlaut, xray]


def make_package(
    out: Path,
    files: list[Path],
    *,
    passphrase: str = PASSPHRASE,
    message: str = "Dear colleague,\nthe x-rays of our common patient.\n",
    subject: str = "Referral: x-rays",
    check_strength: bool = False,
) -> PackageResult:
    request = PackageRequest(
        sender="Dr Alice Example <alice@example.org>",
        subject=subject,
        message=message,
        attachments=tuple(prepare_attachment(p) for p in files),
        passphrase=passphrase,
        created=CREATED,
        check_strength=check_strength,
    )
    return write_package(request, out)


def chunk_spans(data: bytes) -> list[tuple[int, int]]:
    return [m.span() for m in CHUNK_ELEMENT.finditer(data)]


def flip_byte(data: bytes, where: int) -> bytes:
    """Change the base64 character at ``where`` to another valid one."""
    old = data[where : where + 1]
    new = b"B" if old != b"B" else b"C"
    return data[:where] + new + data[where + 1 :]


def flipped_in_chunk(data: bytes, index: int) -> bytes:
    start, end = chunk_spans(data)[index]
    return flip_byte(data, start + len('<script type="application/vnd.smimehelper.chunk">\n') + 100)


def removed_chunk(data: bytes, index: int) -> bytes:
    start, end = chunk_spans(data)[index]
    return data[:start] + data[end:]


def swapped_chunks(data: bytes, a: int, b: int) -> bytes:
    spans = chunk_spans(data)
    (s1, e1), (s2, e2) = spans[a], spans[b]
    assert e1 <= s2
    return data[:s1] + data[s2:e2] + data[e1:s2] + data[s1:e1] + data[e2:]


def truncated_after_chunk(data: bytes, index: int) -> bytes:
    """Everything up to and including chunk ``index``, then the page's end (a cut-off download)."""
    spans = chunk_spans(data)
    return data[: spans[index][1]] + data[spans[-1][1] :]
