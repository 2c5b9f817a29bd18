"""Transfer encodings that keep signed content byte-stable through any mail server.

Base64 output has 76-character lines ended by CRLF (RFC 2045). It is streamed: input arrives in
pieces of any size, output leaves in whole lines, one partial line (< 57 bytes) is held back.

Speed matters here more than anywhere else: an S/MIME message is base64-encoded twice, and
inserting the CRLF every 76 characters costs ten times the encoding itself when done with
``bytes.replace`` (pybase64's SIMD ``b64encode`` does 100 MB in about 5 ms; ``encodebytes`` plus
``replace(b"\n", b"\r\n")`` takes about 240 ms). :class:`LineEncoder` therefore encodes without
line breaks and lets numpy copy the 76-character rows into buffers whose CR LF columns are
written once: one pass at memory speed, into memory that is reused (no page faults per chunk).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pybase64

if TYPE_CHECKING:  # numpy is imported on first use: small messages never load it
    import numpy

LINE_INPUT_BYTES = 57  # 57 bytes encode to one 76-character line
LINE_CHARS = 76
LINE_BYTES = LINE_CHARS + 2  # with CRLF
MAX_QP_LINE = 76
FAST_MIN_BYTES = 32 * 1024  # below this the plain encoder is as fast and needs no numpy
# Loading numpy costs about 70 ms (import and interpreter exit), what the plain encoder spends on
# about 30 MB: a process that has not loaded it yet loads it only for messages this large.
NUMPY_WORTH_BYTES = 16 << 20


def numpy_loaded() -> bool:
    return "numpy" in sys.modules


def _numpy() -> Any:
    if "numpy" not in sys.modules:
        # numpy starts OpenBLAS's worker threads when it is imported, and they spin for about
        # 0.1 s waiting for matrix work smimehelper never gives them: on two cores that is a
        # core taken from the compose pipeline (measured with perf: 9 % of a 100 MB compose).
        # Only when nobody chose otherwise, and only before numpy is loaded.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import numpy

    return numpy


def _wrap_into(out: numpy.ndarray, encoded: bytes, lines: int) -> memoryview:
    """Copy ``lines`` 76-character rows of ``encoded`` into ``out`` (rows of 78, CRLF preset)."""
    np = _numpy()
    out[:lines, :LINE_CHARS] = np.frombuffer(encoded, np.uint8, lines * LINE_CHARS).reshape(lines, LINE_CHARS)
    return memoryview(out[:lines]).cast("B")


def _line_buffer(lines: int) -> numpy.ndarray:
    np = _numpy()
    out = np.empty((lines, LINE_BYTES), np.uint8)
    out[:, LINE_CHARS] = 0x0D
    out[:, LINE_CHARS + 1] = 0x0A
    return out


def base64_lines(data: bytes | bytearray | memoryview) -> bytes:
    """Base64 of ``data`` in CRLF-terminated 76-character lines (the last may be shorter)."""
    if not data:
        return b""
    if len(data) < FAST_MIN_BYTES or not (numpy_loaded() or len(data) >= NUMPY_WORTH_BYTES):
        return pybase64.encodebytes(data).replace(b"\n", b"\r\n")
    view = memoryview(data).cast("B")
    lines = len(view) // LINE_INPUT_BYTES
    whole = lines * LINE_INPUT_BYTES
    out = _line_buffer(lines)
    body = bytes(_wrap_into(out, pybase64.b64encode(view[:whole]), lines))
    if whole == len(view):
        return body
    return body + pybase64.encodebytes(view[whole:]).replace(b"\n", b"\r\n")


class LineEncoder:
    """Base64 of whole 57-byte groups into CRLF lines, written into ``buffers`` reused buffers.

    :meth:`encode` returns a view into the next buffer in turn: it stays valid until ``buffers``
    further calls. A stage that hands its output to another thread through a queue of depth d
    needs d + 2 buffers (d queued, one being consumed, one being written); a stage that writes
    its output out before the next call needs one.

    ``fast=False`` (a small message in a process without numpy) encodes with the plain encoder
    into new ``bytes`` instead; None decides by whether numpy is loaded already.
    """

    def __init__(self, max_input: int, buffers: int = 1, fast: bool | None = None) -> None:
        if max_input < LINE_INPUT_BYTES or buffers < 1:
            raise ValueError("a LineEncoder needs room for one line and at least one buffer")
        self.max_input = max_input - max_input % LINE_INPUT_BYTES
        self._lines = self.max_input // LINE_INPUT_BYTES
        self._buffers: list[numpy.ndarray | None] = [None] * buffers  # made on first use
        self._turn = 0
        self.fast = numpy_loaded() if fast is None else fast

    def encode(self, data: bytes | bytearray | memoryview) -> bytes | memoryview:
        """``data`` (a multiple of 57 bytes, at most ``max_input``) as base64 lines with CRLF."""
        size = len(data)
        if size % LINE_INPUT_BYTES or size > self.max_input:
            raise ValueError(f"LineEncoder.encode takes whole 57-byte groups up to {self.max_input} bytes, not {size}")
        if not self.fast:
            return pybase64.encodebytes(data).replace(b"\n", b"\r\n")
        turn = self._turn
        self._turn = (turn + 1) % len(self._buffers)
        out = self._buffers[turn]
        if out is None:
            out = self._buffers[turn] = _line_buffer(self._lines)
        return _wrap_into(out, pybase64.b64encode(data), size // LINE_INPUT_BYTES)


class Base64Stream:
    """Base64-encode a stream into whole lines, in bounded memory.

    With a :class:`LineEncoder` the large pieces are encoded by it (views into its buffers, with
    its lifetime rule); without one every piece is new ``bytes``.
    """

    def __init__(self, lines: LineEncoder | None = None) -> None:
        self._pending = bytearray()
        self._lines = lines

    def update(self, data: bytes | bytearray | memoryview) -> bytes:
        return b"".join(bytes(piece) for piece in self.update_pieces(data))

    def update_pieces(self, data: bytes | bytearray | memoryview) -> Iterator[bytes | memoryview]:
        """Like :meth:`update`, but the completed first line and the rest stay separate pieces,
        so a large chunk is never copied just to prepend one line to it.

        The stream's state is updated at once; the pieces are made as they are asked for, from
        ``data``, which must stay unchanged until the last piece was taken. With a
        :class:`LineEncoder` each piece is a view into its next buffer: consume the pieces in
        order, each before asking for the next.
        """
        view = memoryview(data).cast("B")
        head = b""
        if self._pending:
            need = (-len(self._pending)) % LINE_INPUT_BYTES
            self._pending += view[:need]
            view = view[need:]
            if len(self._pending) % LINE_INPUT_BYTES:
                return iter(())
            head = base64_lines(self._pending)
            self._pending.clear()
        whole = len(view) - len(view) % LINE_INPUT_BYTES
        self._pending += view[whole:]
        return self._pieces(head, view[:whole])

    def _pieces(self, head: bytes, body: memoryview) -> Iterator[bytes | memoryview]:
        if head:
            yield head
        if not body:
            return
        lines = self._lines
        if lines is None or len(body) < FAST_MIN_BYTES:
            yield base64_lines(body)
            return
        step = lines.max_input
        for start in range(0, len(body), step):
            yield lines.encode(body[start : start + step])

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
