"""Transfer encodings that keep signed content byte-stable through any mail server.

Base64 output has 76-character lines ended by CRLF (RFC 2045). It is streamed: input arrives in
pieces of any size, output leaves in whole lines, one partial line (< 57 bytes) is held back.
"""

from __future__ import annotations

import pybase64

LINE_INPUT_BYTES = 57  # 57 bytes encode to one 76-character line
MAX_QP_LINE = 76


def base64_lines(data: bytes | memoryview) -> bytes:
    """Base64 of ``data`` in CRLF-terminated 76-character lines (the last may be shorter)."""
    if not data:
        return b""
    return pybase64.encodebytes(data).replace(b"\n", b"\r\n")


class Base64Stream:
    """Base64-encode a stream into whole lines, in bounded memory."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def update(self, data: bytes | memoryview) -> bytes:
        return b"".join(self.update_pieces(data))

    def update_pieces(self, data: bytes | memoryview) -> tuple[bytes, ...]:
        """Like :meth:`update`, but the completed first line and the rest stay separate pieces,
        so a large chunk is never copied just to prepend one line to it."""
        view = memoryview(data)
        head = b""
        if self._pending:
            need = (-len(self._pending)) % LINE_INPUT_BYTES
            self._pending += view[:need]
            view = view[need:]
            if len(self._pending) % LINE_INPUT_BYTES:
                return ()
            head = base64_lines(self._pending)
            self._pending.clear()
        whole = len(view) - len(view) % LINE_INPUT_BYTES
        self._pending += view[whole:]
        body = base64_lines(view[:whole])
        return tuple(piece for piece in (head, body) if piece)

    def finish(self) -> bytes:
        tail = base64_lines(self._pending)
        self._pending.clear()
        return tail


def normalize_newlines(text: str) -> str:
    """CRLF, CR and LF all become LF; the encoder then writes CRLF (canonical form)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _qp_char(byte: int) -> str:
    return f"={byte:02X}"


def quoted_printable(text: str) -> bytes:
    """Quoted-printable UTF-8 with CRLF line ends, safe for signing.

    Beyond RFC 2045 it also encodes what mail servers and mbox files are known to alter: a
    line starting "From " (becomes ">From "), a lone "." (SMTP), and trailing spaces or tabs
    (stripped by some servers). Lines stay within 76 characters using soft breaks.
    """
    out_lines: list[str] = []
    for line in normalize_newlines(text).split("\n"):
        encoded: list[str] = []
        raw = line.encode("utf-8")
        for index, byte in enumerate(raw):
            ch = chr(byte)
            if byte in (0x20, 0x09) and index == len(raw) - 1:
                encoded.append(_qp_char(byte))
            elif index == 0 and (raw.startswith(b"From ") or raw.startswith(b".")):
                encoded.append(_qp_char(byte))
            elif ch == "=" or byte > 126 or (byte < 32 and byte != 0x09):
                encoded.append(_qp_char(byte))
            else:
                encoded.append(ch)
        out_lines.extend(_soft_wrap(encoded))
    return "\r\n".join(out_lines).encode("ascii")


def _soft_wrap(tokens: list[str]) -> list[str]:
    """Split encoded tokens into lines of at most 76 characters, soft breaks being "=" at the end."""
    lines: list[str] = []
    current = ""
    for token in tokens:
        if len(current) + len(token) > MAX_QP_LINE - 1:
            lines.append(current + "=")
            current = ""
        current += token
    lines.append(current)
    return lines
