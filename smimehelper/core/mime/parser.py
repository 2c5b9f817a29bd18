"""Parse MIME from a file region by region, without loading bodies into memory.

An entity is a byte range of a (spool) file; its header block is parsed with the standard
library, its body is scanned for boundaries in chunks and decoded in chunks. Limits on header
size, part count and nesting keep hostile messages from exhausting memory or time.
"""

from __future__ import annotations

import binascii
import re
import email.parser
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import BinaryIO

import pybase64

from ..errors import MessageFormatError

CHUNK = 1 << 20
MAX_HEADER_BYTES = 256 * 1024
MAX_PARTS = 2_000
_WHITESPACE = b" \t\r\n"
_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")


@dataclass(frozen=True)
class Entity:
    """Headers of an entity and where its body lies in ``source``."""

    source: BinaryIO
    start: int
    body_start: int
    end: int
    headers: EmailMessage

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type()

    def param(self, name: str) -> str | None:
        value = self.headers.get_param(name)
        if isinstance(value, tuple):  # RFC 2231 value
            value = email.utils.collapse_rfc2231_value(value)
        return value if isinstance(value, str) else None

    @property
    def transfer_encoding(self) -> str:
        return str(self.headers.get("Content-Transfer-Encoding", "7bit")).strip().lower()


def read_region(source: BinaryIO, start: int, end: int, chunk: int = CHUNK) -> Iterator[bytes]:
    source.seek(start)
    remaining = end - start
    while remaining > 0:
        data = source.read(min(chunk, remaining))
        if not data:
            raise MessageFormatError("The message ends unexpectedly; it is truncated.")
        remaining -= len(data)
        yield data


def parse_entity(source: BinaryIO, start: int, end: int) -> Entity:
    """Split an entity into its parsed header block and the position of its body."""
    source.seek(start)
    head = source.read(min(MAX_HEADER_BYTES, end - start))
    if start == 0 and head.startswith(b"From ") and b"\n" in head:  # an mbox "From " line
        skip = head.index(b"\n") + 1
        start += skip
        head = head[skip:]
    if head.startswith((b"\r\n", b"\n")):
        separator, header_bytes = (2 if head.startswith(b"\r\n") else 1), b""
        body_start = start + separator
    elif not _HEADER_LINE.match(head):
        header_bytes, body_start = b"", start  # bare content without headers: plain text
    else:
        crlf = head.find(b"\r\n\r\n")
        lf = head.find(b"\n\n")
        candidates = [(p, 4) for p in (crlf,) if p >= 0] + [(p, 2) for p in (lf,) if p >= 0]
        if not candidates:
            if end - start > MAX_HEADER_BYTES:
                raise MessageFormatError(
                    "This does not look like an e-mail message: no end of the header block was found."
                )
            header_bytes, body_start = head, end
        else:
            position, width = min(candidates)
            header_bytes = head[: position + width]
            body_start = start + position + width
    headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(header_bytes)
    return Entity(source=source, start=start, body_start=body_start, end=end, headers=headers)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PartRange:
    start: int  # first byte of the part (its headers)
    end: int  # end of its content, before the CRLF that belongs to the next delimiter


def split_multipart(entity: Entity) -> list[PartRange]:
    """The parts of a multipart entity, per RFC 2046 5.1.1 (delimiters at line starts)."""
    boundary = entity.param("boundary")
    if not boundary:
        raise MessageFormatError("A multipart section of this message has no boundary; it is damaged.")
    marker = b"--" + boundary.encode("utf-8", "surrogateescape")
    parts: list[PartRange] = []
    part_start: int | None = None
    for line_start, line_end, closing in _delimiters(entity, marker):
        if part_start is not None:
            content_end = line_start
            entity.source.seek(max(line_start - 2, entity.body_start))
            before = entity.source.read(line_start - max(line_start - 2, entity.body_start))
            if before.endswith(b"\r\n"):
                content_end -= 2
            elif before.endswith(b"\n"):
                content_end -= 1
            parts.append(PartRange(part_start, max(content_end, part_start)))
            if len(parts) > MAX_PARTS:
                raise MessageFormatError("This message has more parts than any real message; it is damaged.")
        if closing:
            return parts
        part_start = line_end
    if part_start is None:
        raise MessageFormatError("A multipart section of this message has no parts; it is damaged or truncated.")
    raise MessageFormatError("A multipart section of this message is not closed; the message is truncated.")


def _delimiters(entity: Entity, marker: bytes) -> Iterator[tuple[int, int, bool]]:
    """(start of the delimiter line, start of the next line, is the closing delimiter)."""
    source, end = entity.source, entity.end
    search = entity.body_start
    # A delimiter at the very start of the body has no preceding line break.
    if _starts_with(source, entity.body_start, end, marker):
        line = _delimiter_line(source, entity.body_start, end, marker)
        if line is not None:
            yield line
            if line[2]:
                return
            search = line[1]
    needle = b"\n" + marker
    while True:
        hit = _find(source, needle, max(search - 1, entity.body_start), end)
        if hit is None:
            return
        line = _delimiter_line(source, hit + 1, end, marker)
        if line is None:
            search = hit + 2  # "--boundaryXYZ": a longer boundary; look further
            continue
        yield line
        if line[2]:
            return
        search = line[1]


FIND_CHUNK = 256 * 1024


def _find(source: BinaryIO, needle: bytes, start: int, end: int) -> int | None:
    """Absolute offset of the first ``needle`` in [start, end), reading in bounded chunks."""
    position = start
    carry = b""
    while position < end:
        source.seek(position)
        chunk = source.read(min(FIND_CHUNK, end - position))
        if not chunk:
            return None
        window = carry + chunk
        found = window.find(needle)
        if found >= 0:
            return position - len(carry) + found
        carry = window[-(len(needle) - 1):] if len(needle) > 1 else b""
        position += len(chunk)
    return None


def _starts_with(source: BinaryIO, at: int, end: int, marker: bytes) -> bool:
    source.seek(at)
    return source.read(min(len(marker), end - at)) == marker


def _delimiter_line(source: BinaryIO, at: int, end: int, marker: bytes) -> tuple[int, int, bool] | None:
    source.seek(at)
    line = source.read(min(len(marker) + 1000, end - at))
    if not line.startswith(marker):
        return None
    rest = line[len(marker):]
    closing = rest.startswith(b"--")
    if closing:
        rest = rest[2:]
    newline = rest.find(b"\n")
    tail = rest if newline < 0 else rest[:newline]
    if tail.strip(b" \t\r"):
        return None  # "--boundaryXYZ": a longer boundary, not ours
    next_line = end if newline < 0 else at + len(marker) + (2 if closing else 0) + newline + 1
    return at, next_line, closing


def decoded_body(entity: Entity) -> Iterator[bytes]:
    """The body with its transfer encoding undone, chunk by chunk."""
    raw = read_region(entity.source, entity.body_start, entity.end)
    encoding = entity.transfer_encoding
    if encoding == "base64":
        yield from _base64_decode(raw)
    elif encoding == "quoted-printable":
        yield from _qp_decode(raw)
    else:
        yield from raw


def _base64_decode(chunks: Iterator[bytes]) -> Iterator[bytes]:
    carry = b""
    for chunk in chunks:
        data = carry + chunk.translate(None, _WHITESPACE)
        usable = len(data) - len(data) % 4
        carry = data[usable:]
        if usable:
            yield _b64(data[:usable])
    if carry:
        raise MessageFormatError(
            "An encoded part of this message is cut off (incomplete base64); the message is "
            "truncated or damaged."
        )


def _b64(data: bytes) -> bytes:
    try:
        return pybase64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise MessageFormatError(
            "An encoded part of this message contains invalid characters (damaged base64)."
        ) from None


def _qp_decode(chunks: Iterator[bytes]) -> Iterator[bytes]:
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        if cut:
            yield binascii.a2b_qp(data[:cut])
    if carry:
        yield binascii.a2b_qp(carry)
