"""The message body as a stream of bytes: a text part and attachments read chunk by chunk.

Inside a multipart, the CRLF before each delimiter belongs to the delimiter (RFC 2046 5.1.1),
so every part body is followed by one CRLF of its own; a lone text part has none, and the bytes
a signature covers are exactly the bytes yielded here.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputFileError
from .encoders import Base64Stream, quoted_printable
from .headers import content_disposition_field, content_type_field, new_boundary, sanitize_filename
from .sniff import SNIFF_BYTES, sniff_content_type

# A multiple of 57 so every read becomes whole base64 lines without a carried remainder.
READ_CHUNK = 57 * 16384
COALESCE_BYTES = 64 * 1024

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Attachment:
    """A file to send, checked and typed before any output is written."""

    path: Path
    filename: str
    content_type: str
    size: int


def prepare_attachment(path: Path, filename: str | None = None) -> Attachment:
    """Check that ``path`` is a readable regular file and find its type from its first bytes."""
    path = Path(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise InputFileError(
                f"The attachment {path} is a folder. Attach the files inside it, or a .zip of it."
            )
        if not stat.S_ISREG(info.st_mode):
            raise InputFileError(f"The attachment {path} is not a regular file.")
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise InputFileError(f"The attachment {path} does not exist. Check the file name.") from None
    except PermissionError:
        raise InputFileError(f"The attachment {path} cannot be read (permission denied).") from None
    except OSError as exc:
        if isinstance(exc, InputFileError):
            raise
        raise InputFileError(f"The attachment {path} cannot be read: {exc.strerror}.") from None
    name = sanitize_filename(filename if filename is not None else path.name)
    return Attachment(path=path, filename=name, content_type=sniff_content_type(head, name), size=info.st_size)


def text_part(body: str) -> bytes:
    """The body text as a complete MIME part, UTF-8 quoted-printable."""
    return (
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + quoted_printable(body)
    )


def attachment_part(attachment: Attachment, progress: Progress | None = None) -> Iterator[bytes]:
    """Headers then base64 lines of the file, read in bounded chunks; no CRLF after the body."""
    yield content_type_field(attachment.content_type, name=attachment.filename)
    yield b"Content-Transfer-Encoding: base64\r\n"
    yield content_disposition_field("attachment", attachment.filename)
    yield b"\r\n"
    encoder = Base64Stream()
    try:
        with open(attachment.path, "rb") as handle:
            while chunk := handle.read(READ_CHUNK):
                encoded = encoder.update(chunk)
                if encoded:
                    yield encoded
                if progress is not None:
                    progress(len(chunk))
    except OSError as exc:
        raise InputFileError(
            f"The attachment {attachment.path} could not be read to the end: {exc.strerror}. "
            "Nothing was written."
        ) from None
    tail = encoder.finish()
    if tail:
        yield tail


def content_entity(
    body: str, attachments: Iterable[Attachment], progress: Progress | None = None
) -> Iterator[bytes]:
    """The entity that is signed and encrypted: text alone, or multipart/mixed with files."""
    files = list(attachments)
    if not files:
        yield text_part(body)
        return
    boundary = new_boundary()
    yield content_type_field("multipart/mixed", extra={"boundary": boundary})
    yield b"\r\nThis is a multi-part message in MIME format.\r\n"
    delimiter = b"\r\n--" + boundary.encode("ascii") + b"\r\n"
    yield delimiter[2:]  # the first delimiter follows the preamble's own line end
    yield text_part(body)
    for attachment in files:
        yield delimiter
        yield from attachment_part(attachment, progress)
    yield b"\r\n--" + boundary.encode("ascii") + b"--\r\n"


def coalesce(pieces: Iterable[bytes], min_size: int = COALESCE_BYTES) -> Iterator[bytes]:
    """Join small pieces (headers, delimiters) so the layers below see few, large writes."""
    buffer = bytearray()
    for piece in pieces:
        if len(piece) >= min_size:
            if buffer:
                yield bytes(buffer)
                buffer.clear()
            yield piece
        else:
            buffer += piece
            if len(buffer) >= min_size:
                yield bytes(buffer)
                buffer.clear()
    if buffer:
        yield bytes(buffer)
