"""Read BER from a stream without trusting it.

Thunderbird and ``openssl -stream`` write indefinite lengths and chunked OCTET STRINGs; a
hostile or damaged message can declare absurd lengths. This reader never allocates a declared
length up front: small elements are read whole only up to :data:`MAX_ELEMENT`, and content is
streamed in bounded chunks, so a 2^60-byte claim costs nothing but an error at end of input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import MessageFormatError

MAX_ELEMENT = 16 * 1024 * 1024  # certificates, recipient infos, signer infos: far below this
MAX_DEPTH = 64
READ_CHUNK = 1 << 20

CLASS_UNIVERSAL = 0
CLASS_CONTEXT = 2


@dataclass(frozen=True)
class Header:
    cls: int
    constructed: bool
    tag: int
    length: int | None  # None: indefinite
    raw: bytes

    @property
    def is_eoc(self) -> bool:
        return self.cls == 0 and self.tag == 0 and not self.constructed and self.length == 0

    def is_(self, cls: int, tag: int) -> bool:
        return self.cls == cls and self.tag == tag


class BerReader:
    """A cursor over ``read(n)``; ``read`` may return fewer bytes, b"" only at the end."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self._buffer = bytearray()
        self.position = 0

    def _fill(self, count: int) -> None:
        while len(self._buffer) < count:
            data = self._read(max(count - len(self._buffer), 65536))
            if not data:
                raise MessageFormatError(
                    "The encrypted or signed part of this message is cut off (it ends too early). "
                    "Ask the sender to send it again."
                )
            self._buffer += data

    def peek(self, count: int) -> bytes:
        self._fill(count)
        return bytes(self._buffer[:count])

    def read_exact(self, count: int) -> bytes:
        """Read ``count`` bytes; memory grows only with bytes actually present in the input."""
        if count <= len(self._buffer):
            out = bytes(self._buffer[:count])
            del self._buffer[:count]
        else:
            parts = [bytes(self._buffer)]
            got = len(self._buffer)
            self._buffer.clear()
            while got < count:
                data = self._read(min(count - got, READ_CHUNK))
                if not data:
                    raise MessageFormatError(
                        "The encrypted or signed part of this message is cut off (it ends too "
                        "early). Ask the sender to send it again."
                    )
                parts.append(data)
                got += len(data)
            joined = b"".join(parts)
            out, rest = joined[:count], joined[count:]
            self._buffer += rest
        self.position += count
        return out

    def at_end(self) -> bool:
        if self._buffer:
            return False
        data = self._read(65536)
        if not data:
            return True
        self._buffer += data
        return False

    def read_header(self) -> Header:
        first = self.read_exact(1)[0]
        raw = bytearray([first])
        cls = first >> 6
        constructed = bool(first & 0x20)
        tag = first & 0x1F
        if tag == 0x1F:
            tag = 0
            for _ in range(5):
                byte = self.read_exact(1)[0]
                raw.append(byte)
                tag = (tag << 7) | (byte & 0x7F)
                if not byte & 0x80:
                    break
            else:
                raise _garbage()
        length_byte = self.read_exact(1)[0]
        raw.append(length_byte)
        length: int | None
        if length_byte == 0x80:
            if not constructed:
                raise _garbage()
            length = None
        elif length_byte & 0x80:
            count = length_byte & 0x7F
            if count > 8:
                raise _garbage()
            body = self.read_exact(count)
            raw += body
            length = int.from_bytes(body, "big")
        else:
            length = length_byte
        return Header(cls, constructed, tag, length, bytes(raw))

    def read_value(self, header: Header, limit: int = MAX_ELEMENT, depth: int = 0) -> bytes:
        """The complete contents of an element whose header was just read (for asn1crypto)."""
        if depth > MAX_DEPTH:
            raise _garbage()
        if header.length is not None:
            if header.length > limit:
                raise MessageFormatError(
                    "This message contains a structure far larger than any real message has; "
                    "it is damaged or not a genuine S/MIME message."
                )
            return self.read_exact(header.length)
        pieces: list[bytes] = []
        total = 0
        while True:
            child = self.read_header()
            if child.is_eoc:
                return b"".join(pieces)
            value = self.read_value(child, limit - total, depth + 1)
            encoded = child.raw + value + (b"\x00\x00" if child.length is None else b"")
            pieces.append(encoded)
            total += len(encoded)
            if total > limit:
                raise _garbage()

    def read_element(self, limit: int = MAX_ELEMENT) -> tuple[Header, bytes]:
        """Header and full encoding (header + contents [+ EOC]) of the next element."""
        header = self.read_header()
        value = self.read_value(header, limit)
        trailer = b"\x00\x00" if header.length is None else b""
        return header, header.raw + value + trailer

    def skip_eoc(self) -> None:
        if not self.read_header().is_eoc:
            raise _garbage()

    def octet_string_chunks(self, header: Header, depth: int = 0) -> Iterator[bytes]:
        """The bytes of a (possibly constructed, possibly indefinite) OCTET STRING, chunk by chunk."""
        if depth > MAX_DEPTH:
            raise _garbage()
        if not header.constructed:
            remaining = header.length or 0
            while remaining:
                chunk = self.read_exact(min(remaining, READ_CHUNK))
                remaining -= len(chunk)
                yield chunk
            return
        end = None if header.length is None else self.position + header.length
        while True:
            if end is not None and self.position >= end:
                if self.position != end:
                    raise _garbage()
                return
            child = self.read_header()
            if header.length is None and child.is_eoc:
                return
            if child.cls != CLASS_UNIVERSAL or child.tag != 4:
                raise _garbage()
            yield from self.octet_string_chunks(child, depth + 1)


def _garbage() -> MessageFormatError:
    return MessageFormatError(
        "The encrypted or signed part of this message is damaged (its structure cannot be read). "
        "Ask the sender to send it again."
    )
