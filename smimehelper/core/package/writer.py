"""Write a password package: one self-contained .html file, streamed in bounded memory.

Each attachment is read 1 MiB at a time, encrypted, base64-encoded and written before the next
is read, so a 200 MB study needs a few MiB whatever its size (benchmarks/package_make.py). The
file is written beside the target and renamed only when complete (core/atomic.py): an error, a
file that changes while it is read, Ctrl-C or a full disk leave no half package behind.

The viewer page is kept readable in ``smimehelper/resources/package/`` (viewer.html, .css,
.js); the writer puts the style and script inline and allows exactly those in the page's
Content-Security-Policy by their SHA-256, so the page can load and send nothing at all.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pybase64
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..atomic import atomic_writer
from ..files import open_regular
from ..errors import ComposeError, InputFileError, UserError
from ..mime.writer import Attachment, ensure_unchanged
from . import format as fmt
from .passphrase import require_strong
from .preview import dicom_preview

WRITE_BUFFER = 1 << 20


class PackageCancelled(UserError):
    def __init__(self) -> None:
        super().__init__("Cancelled. No package was written.")


@dataclass(frozen=True)
class PackageRequest:
    sender: str  # "Dr Alice Example <alice@example.org>", shown on the page
    subject: str  # shown on the page only (never in the mail)
    message: str
    attachments: tuple[Attachment, ...]
    passphrase: str
    created: dt.datetime
    iterations: int = fmt.DEFAULT_ITERATIONS
    check_strength: bool = True  # False only for a passphrase this program generated


@dataclass(frozen=True)
class PackedFile:
    name: str
    size: int
    content_type: str
    sha256: str  # hex, of the file as packed
    preview: bool


@dataclass(frozen=True)
class PackageResult:
    path: Path
    size: int
    files: tuple[PackedFile, ...]
    chunks: int
    iterations: int


@lru_cache(maxsize=1)
def viewer_parts() -> tuple[bytes, bytes]:
    """(everything before the payload, everything after it), with style, script and CSP filled in."""
    from importlib import resources

    folder = resources.files("smimehelper") / "resources" / "package"
    template = (folder / "viewer.html").read_text("utf-8")
    style = (folder / "viewer.css").read_text("utf-8")
    script = (folder / "viewer.js").read_text("utf-8")
    for text in (style, script):
        if "</" in text:  # would end the inline element early
            raise RuntimeError("viewer.css/viewer.js must not contain '</'")
    page = (
        template.replace("{{CSP}}", content_security_policy(style, script))
        .replace("{{GENERATOR}}", fmt.GENERATOR)
        .replace("{{STYLE}}", style)
        .replace("{{SCRIPT}}", script)
    )
    head, marker, tail = page.partition("{{PAYLOAD}}")
    if not marker:
        raise RuntimeError("viewer.html has no {{PAYLOAD}} marker")
    return head.encode("utf-8"), tail.encode("utf-8")


def content_security_policy(style: str, script: str) -> str:
    """default-src 'none': no request of any kind; only our exact style and script may run;
    images only from blob: URLs the page makes itself (the decrypted previews)."""
    return (
        "default-src 'none'; "
        f"script-src '{_csp_hash(script)}'; "
        f"style-src '{_csp_hash(style)}'; "
        "img-src blob:; base-uri 'none'; form-action 'none'"
    )


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def plan_manifest(request: PackageRequest) -> tuple[fmt.Manifest, tuple[bytes | None, ...]]:
    """The manifest and each file's rendered preview (DICOM only; JPEG/PNG preview themselves)."""
    previews: list[bytes | None] = []
    entries = []
    for attachment in request.attachments:
        preview = dicom_preview(attachment.path) if attachment.content_type == "application/dicom" else None
        previews.append(preview)
        entries.append(
            fmt.FileEntry(
                name=attachment.filename,
                size=attachment.size,
                content_type=attachment.content_type,
                preview_type="image/jpeg" if preview else None,
                preview_size=len(preview) if preview else 0,
            )
        )
    manifest = fmt.Manifest(
        sender=request.sender,
        created=request.created.astimezone(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ"),
        subject=request.subject,
        message=request.message,
        files=tuple(entries),
    )
    return manifest, tuple(previews)


def write_package(
    request: PackageRequest,
    out: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> PackageResult:
    """Write the package for ``request`` to ``out`` (atomically); raise a UserError on bad input."""
    if request.check_strength:
        require_strong(request.passphrase, (request.sender, request.subject))
    if not fmt.MIN_ITERATIONS <= request.iterations <= fmt.MAX_ITERATIONS:
        raise ValueError("iterations out of range")
    manifest, previews = plan_manifest(request)
    manifest_bytes = manifest.encode()
    header = fmt.Header(
        iterations=request.iterations,
        salt=os.urandom(fmt.SALT_BYTES),
        nonce_prefix=os.urandom(fmt.PREFIX_BYTES),
        chunks=manifest.total_chunks(),
    )
    header_bytes = header.encode()
    keys = fmt.derive_keys(request.passphrase, header)
    sealer = _Sealer(header, header_bytes, keys.encryption)
    total = sum(a.size for a in request.attachments)
    done = 0

    def on_bytes(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)
        if cancelled is not None and cancelled():
            raise PackageCancelled()

    head, tail = viewer_parts()
    out = Path(out)
    _check_target(out)
    packed: list[PackedFile] = []
    try:
        with atomic_writer(out) as raw:
            sink = io.BufferedWriter(raw, WRITE_BUFFER)  # type: ignore[arg-type]
            sink.write(head)
            sink.write(_element(fmt.HEADER_TYPE, header_bytes, "sh-header"))
            sink.write(_element(fmt.CHECK_TYPE, fmt.check_value(keys, header_bytes), "sh-check"))
            for offset in range(0, len(manifest_bytes), fmt.CHUNK_SIZE):
                sink.write(sealer.seal(manifest_bytes[offset : offset + fmt.CHUNK_SIZE]))
            for attachment, preview in zip(request.attachments, previews):
                digest = hashlib.sha256()
                for piece in _read_exactly(attachment, on_bytes):
                    digest.update(piece)
                    sink.write(sealer.seal(piece))
                if preview:
                    for offset in range(0, len(preview), fmt.CHUNK_SIZE):
                        sink.write(sealer.seal(preview[offset : offset + fmt.CHUNK_SIZE]))
                packed.append(PackedFile(attachment.filename, attachment.size, attachment.content_type, digest.hexdigest(), bool(preview)))
            sealer.finish()
            sink.write(tail)
            sink.flush()
            size = raw.tell()
            sink.detach()
    except PermissionError:
        raise ComposeError(f"Cannot write {out}: permission denied. Choose another folder.") from None
    except FileNotFoundError:
        raise ComposeError(f"Cannot write {out}: the folder does not exist.") from None
    except IsADirectoryError:
        raise ComposeError(f"Cannot write {out}: it is a folder. Give a file name ending in .html.") from None
    except OSError as exc:
        if isinstance(exc, UserError):
            raise
        raise ComposeError(f"Cannot write {out}: {exc.strerror}. No package was written.") from None
    return PackageResult(path=out, size=size, files=tuple(packed), chunks=header.chunks, iterations=header.iterations)


def _check_target(out: Path) -> None:
    """Only a regular file (or a new name) is replaced: renaming over a device node such as
    /dev/null (as root) or a FIFO would replace the node itself."""
    try:
        info = out.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ComposeError(f"Cannot write {out}: {exc.strerror}.") from None
    if stat.S_ISDIR(info.st_mode):
        raise ComposeError(f"Cannot write {out}: it is a folder. Give a file name ending in .html.")
    if not stat.S_ISREG(info.st_mode):
        raise ComposeError(f"Cannot write {out}: it is not a regular file (a device or a pipe). Give a file name ending in .html.")


class _Sealer:
    """Encrypts chunk after chunk with the STREAM nonce; refuses more or fewer than planned."""

    def __init__(self, header: fmt.Header, header_bytes: bytes, key: bytes) -> None:
        self._header = header
        self._aad = fmt.associated_data(header_bytes)
        self._aead = AESGCM(key)
        self._index = 0

    def seal(self, plaintext: bytes | memoryview) -> bytes:
        if self._index >= self._header.chunks:
            raise InputFileError("An attachment grew while it was being packed. Nothing was written.")
        sealed = self._aead.encrypt(fmt.nonce(self._header, self._index), bytes(plaintext), self._aad)
        self._index += 1
        return _element(fmt.CHUNK_TYPE, sealed)

    def finish(self) -> None:
        if self._index != self._header.chunks:  # pragma: no cover - _read_exactly checks sizes
            raise InputFileError("An attachment changed while it was being packed. Nothing was written.")


def _element(kind: str, data: bytes, element_id: str | None = None) -> bytes:
    ident = f' id="{element_id}"' if element_id else ""
    return b"".join((f'<script type="{kind}"{ident}>\n'.encode("ascii"), pybase64.encodebytes(data), b"</script>\n"))


def _read_exactly(attachment: Attachment, on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    """The file's ``attachment.size`` bytes in 1 MiB pieces; an error if it is now shorter or longer."""
    remaining = attachment.size
    try:
        with open_regular(attachment.path, "attachment") as handle:
            ensure_unchanged(attachment, handle, "packed")  # the file it was when it was added
            while remaining > 0:
                piece = handle.read(min(fmt.CHUNK_SIZE, remaining))
                if not piece:
                    break
                while len(piece) < min(fmt.CHUNK_SIZE, remaining):  # short reads (pipes, network shares)
                    more = handle.read(min(fmt.CHUNK_SIZE, remaining) - len(piece))
                    if not more:
                        break
                    piece += more
                remaining -= len(piece)
                on_bytes(len(piece))
                yield piece
                if len(piece) < fmt.CHUNK_SIZE and remaining > 0:
                    break
            grew = bool(handle.read(1))
            if not remaining and not grew:
                ensure_unchanged(attachment, handle, "packed")  # same size, but rewritten or replaced meanwhile?
    except OSError as exc:
        raise InputFileError(
            f"The attachment {attachment.path} could not be read to the end: {exc.strerror}. Nothing was written."
        ) from None
    if remaining or grew:
        raise InputFileError(
            f"The attachment {attachment.path} changed while it was being packed "
            f"({'it became shorter' if remaining else 'it grew'}). Wait until it is complete, then try again. "
            "Nothing was written."
        )
