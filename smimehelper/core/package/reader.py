"""Open a password package in Python (``smimehelper open package.html --passphrase-file F``).

The same rules as the page: the header and check value first (damaged or not a package, before
any passphrase work), then the passphrase, then every chunk in order. Files are decrypted into
hidden temporary files in the target folder and given their names only after the last chunk
authenticated, so a damaged package saves nothing, like the page offers nothing.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..attachments import safe_filename, save_unique
from ..files import open_regular
from ..errors import DecryptionError, InputFileError, MessageFormatError
from . import format as fmt

READ_BLOCK = 1 << 20
MAX_ELEMENT_TEXT = 2 * fmt.CHUNK_SIZE  # base64 of one chunk is about 1.4 MiB
_START = re.compile(rb'<script type="(application/vnd\.smimehelper\.[a-z]+)"(?: id="([a-z-]+)")?>')
_END = b"</script>"
SNIFF_BYTES = 4096


class PackageDamaged(DecryptionError):
    def __init__(self) -> None:
        super().__init__("This package is damaged; ask the sender to send it again. Nothing was saved.")


class WrongPackagePassphrase(DecryptionError):
    def __init__(self) -> None:
        super().__init__(
            "That passphrase does not open this package. Check it with the sender and try again "
            "(upper or lower case and extra spaces do not matter)."
        )


@dataclass(frozen=True)
class OpenedFile:
    name: str
    size: int
    content_type: str
    sha256: str
    saved_to: Path | None


@dataclass(frozen=True)
class OpenedPackage:
    sender: str
    created: str
    subject: str
    message: str
    files: tuple[OpenedFile, ...]
    iterations: int


def is_package(path: Path) -> bool:
    """Whether ``path`` starts like a package page (its generator tag is near the top)."""
    try:
        with open_regular(path, "message file") as handle:  # a FIFO or device: not a package, no hang
            head = handle.read(SNIFF_BYTES)
    except (OSError, InputFileError):
        return False
    return head.lstrip().lower().startswith(b"<!doctype html") and f'content="{fmt.GENERATOR}"'.encode() in head


def open_package(path: Path, passphrase: str, save_dir: Path | None = None) -> OpenedPackage:
    """Check and decrypt the package at ``path``; with ``save_dir`` save its files there."""
    path = Path(path)
    handle = open_regular(path, "password package (.html)")
    with handle:
        if not os.path.isfile(path):
            raise InputFileError(f"{path} is not a regular file.")
        elements = _elements(handle)
        header_bytes = _expect(elements, fmt.HEADER_TYPE, "sh-header")
        check = _expect(elements, fmt.CHECK_TYPE, "sh-check")
        try:
            header = fmt.Header.decode(header_bytes)
        except fmt.FormatError:
            raise PackageDamaged() from None
        if not fmt.check_is_intact(header_bytes, check):
            raise PackageDamaged()
        keys = fmt.derive_keys(passphrase, header)
        if not fmt.passphrase_matches(keys, header_bytes, check):
            raise WrongPackagePassphrase()
        chunks = _ChunkOpener(header, header_bytes, keys.encryption, elements)
        with _Staging(save_dir) as staging:
            manifest = chunks.manifest()
            opened: list[tuple[fmt.FileEntry, str, Path | None]] = []
            for entry in manifest.files:
                digest = hashlib.sha256()
                with staging.new() as (target, out):
                    for piece in chunks.segment(entry.size):
                        digest.update(piece)
                        if out is not None:
                            out.write(piece)
                if entry.preview_type is not None:
                    for _ in chunks.segment(entry.preview_size):
                        pass
                opened.append((entry, digest.hexdigest(), target))
            chunks.finish()
            saved = staging.publish([(safe_filename(e.name, e.content_type, i + 1), t) for i, (e, _, t) in enumerate(opened)])
        files = tuple(
            OpenedFile(e.name, e.size, e.content_type, digest, saved[i] if saved else None)
            for i, (e, digest, _) in enumerate(opened)
        )
        return OpenedPackage(manifest.sender, manifest.created, manifest.subject, manifest.message, files, header.iterations)


def _elements(handle) -> Iterator[tuple[str, str | None, bytes]]:  # type: ignore[no-untyped-def]
    """(type, id, decoded bytes) of each data block, read in bounded memory."""
    buffer = b""
    eof = False
    while True:
        match = _START.search(buffer)
        while match is None and not eof:
            block = handle.read(READ_BLOCK)
            eof = not block
            buffer = buffer[-200:] + block  # a start tag may straddle two blocks
            match = _START.search(buffer)
        if match is None:
            return
        kind, ident = match.group(1).decode("ascii"), match.group(2)
        buffer = buffer[match.end():]
        end = buffer.find(_END)
        while end < 0:
            if len(buffer) > MAX_ELEMENT_TEXT or eof:
                raise PackageDamaged()
            block = handle.read(READ_BLOCK)
            eof = not block
            buffer += block
            end = buffer.find(_END)
        text, buffer = buffer[:end], buffer[end + len(_END):]
        if len(text) > MAX_ELEMENT_TEXT:
            raise PackageDamaged()
        try:
            data = base64.b64decode(re.sub(rb"[\t\n\f\r ]+", b"", text), validate=True)
        except (binascii.Error, ValueError):
            raise PackageDamaged() from None
        yield kind, ident.decode("ascii") if ident else None, data


def _expect(elements: Iterator[tuple[str, str | None, bytes]], kind: str, ident: str) -> bytes:
    found = next(elements, None)
    if found is None:
        raise MessageFormatError("This file is not a smimehelper password package (no encrypted contents in it).")
    if found[0] != kind or found[1] != ident:
        raise PackageDamaged()
    return found[2]


class _ChunkOpener:
    def __init__(self, header: fmt.Header, header_bytes: bytes, key: bytes, elements: Iterator[tuple[str, str | None, bytes]]) -> None:
        self._header = header
        self._aad = fmt.associated_data(header_bytes)
        self._aead = AESGCM(key)
        self._elements = elements
        self._index = 0

    def next(self, expected: int | None = None) -> bytes:
        if self._index >= self._header.chunks:
            raise PackageDamaged()
        found = next(self._elements, None)
        if found is None or found[0] != fmt.CHUNK_TYPE or found[1] is not None:
            raise PackageDamaged()
        try:
            plain = self._aead.decrypt(fmt.nonce(self._header, self._index), found[2], self._aad)
        except InvalidTag:
            raise PackageDamaged() from None
        if expected is not None and len(plain) != expected:
            raise PackageDamaged()
        self._index += 1
        return plain

    def manifest(self) -> fmt.Manifest:
        first = self.next()
        if len(first) < 4:
            raise PackageDamaged()
        (length,) = struct.unpack(">I", first[:4])
        total = 4 + length
        if length > fmt.MAX_MANIFEST_BYTES or len(first) != min(fmt.CHUNK_SIZE, total):
            raise PackageDamaged()
        parts = [first]
        for offset in range(len(first), total, fmt.CHUNK_SIZE):
            parts.append(self.next(min(fmt.CHUNK_SIZE, total - offset)))
        try:
            manifest = fmt.Manifest.decode(b"".join(parts)[4:])
        except fmt.FormatError:
            raise PackageDamaged() from None
        if manifest.total_chunks() != self._header.chunks:
            raise PackageDamaged()
        return manifest

    def segment(self, length: int) -> Iterator[bytes]:
        for offset in range(0, length, fmt.CHUNK_SIZE):
            yield self.next(min(fmt.CHUNK_SIZE, length - offset))

    def finish(self) -> None:
        if self._index != self._header.chunks or next(self._elements, None) is not None:
            raise PackageDamaged()


class _Staging:
    """Hidden temporary files in the target folder, renamed only when the whole package is good."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.temps: list[Path] = []

    def __enter__(self) -> _Staging:
        if self.folder is not None:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputFileError(f"Cannot create the folder {self.folder}: {exc.strerror}.") from None
        return self

    def __exit__(self, *exc: object) -> None:
        for temp in self.temps:
            with contextlib.suppress(OSError):
                temp.unlink()

    @contextlib.contextmanager
    def new(self) -> Iterator[tuple[Path | None, object]]:
        if self.folder is None:
            yield None, None
            return
        import tempfile

        try:
            fd, name = tempfile.mkstemp(prefix=".smimehelper-package-", suffix=".part", dir=self.folder)
        except OSError as exc:
            raise InputFileError(f"Cannot save into {self.folder}: {exc.strerror}.") from None
        temp = Path(name)
        self.temps.append(temp)
        try:
            with os.fdopen(fd, "wb") as out:
                yield temp, out
        except OSError as exc:
            raise InputFileError(f"Cannot save into {self.folder}: {exc.strerror}. Nothing was saved.") from None

    def publish(self, names: list[tuple[str, Path | None]]) -> list[Path]:
        if self.folder is None:
            return []
        saved = []
        for name, temp in names:
            assert temp is not None
            saved.append(_publish_one(self.folder, name, temp))
        return saved


def _publish_one(folder: Path, name: str, temp: Path) -> Path:
    """Give ``temp`` its name (or "name (1)"...) without replacing a file: a hard link is atomic
    and refuses an existing name; file systems without links (FAT) get a copy."""
    stem, suffix = os.path.splitext(name)
    for number in range(10_000):
        candidate = folder / (name if number == 0 else f"{stem} ({number}){suffix}")
        try:
            os.link(temp, candidate)
        except FileExistsError:
            continue
        except OSError:
            break
        return candidate

    def chunks() -> Iterator[bytes]:
        with open(temp, "rb") as handle:
            while block := handle.read(READ_BLOCK):
                yield block

    return save_unique(folder, name, chunks())
