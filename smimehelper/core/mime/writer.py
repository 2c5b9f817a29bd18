"""The message body as a stream of bytes: a text part and attachments read chunk by chunk.

Inside a multipart, the CRLF before each delimiter belongs to the delimiter (RFC 2046 5.1.1),
so every part body is followed by one CRLF of its own; a lone text part has none, and the bytes
a signature covers are exactly the bytes yielded here.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import InputFileError
from ..files import open_regular
from .encoders import Base64Stream, LineEncoder, base64_lines, quoted_printable
from .headers import content_disposition_field, content_type_field, new_boundary, sanitize_filename
from .sniff import SNIFF_BYTES, sniff_content_type

# A multiple of 57 so every read becomes whole base64 lines without a carried remainder.
READ_CHUNK = 57 * 16384
COALESCE_BYTES = 64 * 1024

Progress = Callable[[int], None]


@dataclass(frozen=True)
class FileStamp:
    """What identifies a file's content without reading it: if any of these changed, the file
    was rewritten, truncated, grown or replaced by another one."""

    size: int
    mtime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, info: os.stat_result) -> FileStamp:
        return cls(info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev)


@dataclass(frozen=True)
class Attachment:
    """A file to send, checked and typed before any output is written."""

    path: Path
    filename: str
    content_type: str
    size: int
    stamp: FileStamp | None = None  # as seen when prepared; checked again after reading


def prepare_attachment(path: Path, filename: str | None = None) -> Attachment:
    """Check that ``path`` is a readable regular file and find its type from its first bytes."""
    path = Path(path)
    try:
        with open_regular(path, "attachment") as handle:
            info = os.fstat(handle.fileno())
            head = handle.read(SNIFF_BYTES)
    except InputFileError as exc:
        if "is a folder" in str(exc):
            raise InputFileError(
                f"The attachment {path} is a folder. Attach the files inside it, or a .zip of it."
            ) from None
        raise
    except OSError as exc:
        raise InputFileError(f"The attachment {path} cannot be read: {exc.strerror}.") from None
    name = sanitize_filename(filename if filename is not None else path.name)
    return Attachment(
        path=path, filename=name, content_type=sniff_content_type(head, name), size=info.st_size,
        stamp=FileStamp.of(info),
    )


class AttachmentChanged(InputFileError):
    """The file changed while the message was being written: what was read is not the file."""


def ensure_unchanged(attachment: Attachment, handle: BinaryIO, doing: str = "read") -> None:
    """The open file (and the path) must still be the file stamped when it was added:
    :class:`AttachmentChanged` otherwise. Without a stamp there is nothing to compare."""
    stamp = attachment.stamp
    if stamp is None:
        return
    now = FileStamp.of(os.fstat(handle.fileno()))
    if now.size != stamp.size:
        raise _changed(attachment, f"it was {stamp.size} bytes and is now {now.size}", doing)
    if now != stamp:
        raise _changed(attachment, "it was modified" if (now.inode, now.device) == (stamp.inode, stamp.device)
                       else "it is not the file it was when it was added", doing)
    try:
        at_path: FileStamp | None = FileStamp.of(os.stat(attachment.path))
    except FileNotFoundError:
        at_path = None
    if at_path != stamp:
        raise _changed(attachment, "it was removed or replaced by another file", doing)


def _changed(attachment: Attachment, detail: str, doing: str = "read") -> AttachmentChanged:
    return AttachmentChanged(
        f"The attachment {attachment.path} changed while it was being {doing} ({detail}). Nothing was "
        "written. Wait until the file is complete (for example until an export or a copy has "
        "finished) and try again."
    )


def text_part(body: str) -> bytes:
    """The body text as a complete MIME part, UTF-8 quoted-printable."""
    return (
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + quoted_printable(body)
    )


def attachment_part(
    attachment: Attachment, progress: Progress | None = None, lines: LineEncoder | None = None
) -> Iterator[bytes | memoryview]:
    """Headers then base64 lines of the file, read in bounded chunks; no CRLF after the body.

    Exactly the size seen when the attachment was prepared is read; the file must still be that
    file (same size, modification time, inode and device) at the end, else the message would
    carry a truncated or mixed study under a valid signature: :class:`AttachmentChanged`.

    The file is read into one reused buffer. With ``lines`` (a :class:`LineEncoder` of at least
    READ_CHUNK) the base64 pieces are views into its buffers, with its lifetime rule; without,
    they are new ``bytes``.
    """
    yield content_type_field(attachment.content_type, name=attachment.filename)
    yield b"Content-Transfer-Encoding: base64\r\n"
    yield content_disposition_field("attachment", attachment.filename)
    yield b"\r\n"
    encoder = Base64Stream(lines)
    with open_regular(attachment.path, "attachment") as handle:
        ensure_unchanged(attachment, handle)
        expected = attachment.stamp.size if attachment.stamp is not None else None
        done = 0
        buffer = memoryview(bytearray(READ_CHUNK))
        try:
            while True:
                want = READ_CHUNK if expected is None else min(READ_CHUNK, expected - done)
                if want <= 0:
                    break
                count = handle.readinto(buffer[:want])
                if not count:
                    break
                done += count
                yield from encoder.update_pieces(buffer[:count])
                if progress is not None:
                    progress(count)
            extra = handle.read(1) if expected is not None else b""
        except OSError as exc:
            raise InputFileError(
                f"The attachment {attachment.path} could not be read to the end: {exc.strerror}. "
                "Nothing was written."
            ) from None
        if expected is not None:
            if done < expected:
                raise _changed(attachment, f"only {done} of its {expected} bytes could be read; it was shortened")
            if extra:
                raise _changed(attachment, f"it grew beyond the {expected} bytes it had")
            ensure_unchanged(attachment, handle)
    tail = encoder.finish()
    if tail:
        yield tail


def content_entity(
    body: str,
    attachments: Iterable[Attachment],
    progress: Progress | None = None,
    lines: LineEncoder | None = None,
) -> Iterator[bytes | memoryview]:
    """The entity that is signed and encrypted: text alone, or multipart/mixed with files.

    ``lines``: see :func:`attachment_part` (without it every piece is new ``bytes``)."""
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
        yield from attachment_part(attachment, progress, lines)
    yield b"\r\n--" + boundary.encode("ascii") + b"--\r\n"


def signed_entity(
    content: Iterable[bytes | memoryview], sign: Callable[[bytes], bytes]
) -> Iterator[bytes | memoryview]:
    """multipart/signed (RFC 8551 3.5.3, SHA-256) around ``content``: the content is hashed as it
    passes through, and ``sign(digest)`` gives the DER of the detached signature at the end."""
    boundary = new_boundary()
    delimiter = b"\r\n--" + boundary.encode("ascii") + b"\r\n"
    yield (
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n"
        f'\tmicalg=sha-256; boundary="{boundary}"\r\n'
        "\r\n"
        "This is a cryptographically signed message in MIME format.\r\n"
    ).encode("ascii")
    yield delimiter
    digest = hashlib.sha256()
    for chunk in content:
        digest.update(chunk)
        yield chunk
    signature = sign(digest.digest())
    yield delimiter
    yield (
        b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="smime.p7s"\r\n'
        b"Content-Description: S/MIME Cryptographic Signature\r\n"
        b"\r\n"
    )
    yield base64_lines(signature)
    yield b"--" + boundary.encode("ascii") + b"--\r\n"


def coalesce(
    pieces: Iterable[bytes | memoryview], min_size: int = COALESCE_BYTES
) -> Iterator[bytes | memoryview]:
    """Join small pieces (headers, delimiters) so the layers below see few, large writes.
    Large pieces pass through as they are (never kept); small ones are copied."""
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
