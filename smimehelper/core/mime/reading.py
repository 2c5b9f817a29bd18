"""Reading a parsed MIME entity: its header fields as text, its file name, the start of its text,
and its decoded bytes as a stream (for the CMS reader). The reader (core/reader.py) peels and
judges the layers; these say what each part is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from .parser import Entity, decoded_body


class ChunkReader:
    """``read(n)`` over an iterator of chunks, without re-copying what remains of a chunk."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._view = memoryview(b"")

    def read(self, count: int) -> bytes:
        while not len(self._view):
            try:
                self._view = memoryview(next(self._chunks))
            except StopIteration:
                return b""
        out = bytes(self._view[:count])
        self._view = self._view[count:]
        return out


MESSAGE_HEADERS = {"from", "to", "subject", "date", "content-type", "mime-version", "message-id"}


def lf_only(handle: BinaryIO, top: Entity) -> bool:
    """A message saved with bare LF line ends (Unix mbox tools): hash in canonical CRLF form."""
    handle.seek(top.start)
    head = handle.read(min(4096, top.body_start - top.start or 4096))
    return b"\n" in head and b"\r\n" not in head


def canonical(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def is_p7m_attachment(entity: Entity) -> bool:
    """Some gateways send S/MIME as application/octet-stream named smime.p7m."""
    if entity.content_type != "application/octet-stream":
        return False
    name = (filename_of(entity) or "").lower()
    return name.endswith(".p7m")


def filename_of(entity: Entity) -> str | None:
    try:
        name = entity.headers.get_filename()
    except (ValueError, TypeError, LookupError):
        name = None
    if not name:
        value = entity.param("name")
        name = value if value else None
    return str(name) if name else None


def text_start(entity: Entity, limit: int) -> tuple[str, bool]:
    """The first ``limit`` bytes of a text part, decoded; and whether there was more."""
    data = bytearray()
    cut = False
    for chunk in decoded_body(entity):
        data += chunk
        if len(data) > limit:
            del data[limit:]
            cut = True
            break
    charset = entity.headers.get_content_charset() or "utf-8"
    try:
        text = bytes(data).decode(charset, errors="replace")
    except (LookupError, UnicodeError):  # unknown charset, or one that refuses "replace" (idna)
        text = bytes(data).decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n"), cut


def raw_headers(entity: Entity, name: str) -> list[str]:
    """Every ``name`` header as the reader sees it (encoded words decoded)."""
    try:
        return [str(v) for v in entity.headers.get_all(name) or []]
    except (ValueError, TypeError, IndexError, LookupError):
        return ["(unreadable)"]


def header_text(entity: Entity, name: str) -> str:
    try:
        value = entity.headers.get(name)
    except (ValueError, TypeError, IndexError, LookupError):
        return ""
    return str(value) if value is not None else ""


def address_list(entity: Entity, name: str) -> tuple[str, ...]:
    try:
        header = entity.headers.get(name)
        if header is None:
            return ()
        return tuple(str(address) for address in header.addresses)
    except (ValueError, TypeError, AttributeError, IndexError, LookupError):
        return (header_text(entity, name),)


def address_only(text: str) -> str | None:
    from email.utils import parseaddr

    address = parseaddr(text)[1].strip().lower()
    return address or None


def date_of(entity: Entity) -> str | None:
    try:
        header = entity.headers.get("Date")
        if header is None:
            return None
        when = getattr(header, "datetime", None)
        return when.isoformat() if when is not None else str(header)
    except (ValueError, TypeError, IndexError, LookupError):
        return None
