"""The password package format, version 1 (specified in docs/package-format.md).

This module holds what the writer, the Python reader and the browser page must agree on byte for
byte: the header, the key schedule, the chunk nonces and the plaintext layout. Nothing here does
I/O, so the three can be checked against each other (and against the document) in tests.

Why these choices: Web Crypto is the only crypto every browser offers without installing
anything, and its common subset is PBKDF2-HMAC-SHA256, HKDF, HMAC and AES-GCM. AES-GCM over
1 MiB chunks with a STREAM nonce (Hoang, Reyhanitabar, Rogaway, Vizar 2015: random prefix,
chunk counter, last-chunk flag) lets the page decrypt chunk by chunk, while reordering, removing
or appending a chunk, or cutting the file short, all make a chunk fail to authenticate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
import unicodedata
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

FORMAT_NAME = "smimehelper-package"
VERSION = 1
GENERATOR = "smimehelper package 1"  # <meta name="generator"> marks a package for `open`
KDF_NAME = "PBKDF2-HMAC-SHA256"
CIPHER_NAME = "AES-256-GCM"
CHUNK_SIZE = 1 << 20  # 1 MiB of plaintext per chunk
MIN_ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
DEFAULT_ITERATIONS = 600_000
MAX_ITERATIONS = 10_000_000  # a reader refuses more: a modified header must not hang the page
SALT_BYTES = 16
PREFIX_BYTES = 7  # 7-byte prefix + 4-byte counter + 1-byte last flag = the 96-bit GCM nonce
TAG_BYTES = 16
MAX_CHUNKS = 2**32 - 1
MAX_MANIFEST_BYTES = 64 << 20

INFO_ENCRYPTION = b"smimehelper package v1 encryption key"
INFO_CHECK = b"smimehelper package v1 header check"

# Element types in the HTML: data blocks, never executed (HTML 4.12.1.2), so the CSP does not
# have to allow them, and base64 text can never contain "</script".
HEADER_TYPE = "application/vnd.smimehelper.header"
CHECK_TYPE = "application/vnd.smimehelper.check"
CHUNK_TYPE = "application/vnd.smimehelper.chunk"
BASE64_LINE = 76

# The whitespace the page and the reader both collapse (JavaScript's \s, written out so that
# Python's different idea of whitespace cannot make the two derive different keys).
_WHITESPACE = re.compile("[\t\n\u000b\u000c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+")


class FormatError(ValueError):
    """The bytes are not a well-formed version 1 package (damaged, or not a package at all)."""


def normalize_passphrase(text: str) -> bytes:
    """The bytes the key is derived from: lower case, NFC, whitespace runs as one space, trimmed.

    A passphrase read out on the phone has no audible case or spacing, and phone keyboards
    capitalise the first letter; this makes "Abacus  Acorn" and "abacus acorn" the same key.
    The page applies exactly this (viewer.js ``normalize``).
    """
    folded = unicodedata.normalize("NFC", text.lower())
    return _WHITESPACE.sub(" ", folded).strip(" ").encode("utf-8")


@dataclass(frozen=True)
class Header:
    """The clear-text parameters; authenticated (as AAD and by the check value), not secret."""

    iterations: int
    salt: bytes
    nonce_prefix: bytes
    chunks: int
    chunk_size: int = CHUNK_SIZE

    def encode(self) -> bytes:
        """The exact header bytes H (compact JSON, keys in this order)."""
        return json.dumps(
            {
                "format": FORMAT_NAME,
                "version": VERSION,
                "kdf": KDF_NAME,
                "iterations": self.iterations,
                "salt": _b64(self.salt),
                "cipher": CIPHER_NAME,
                "chunk_size": self.chunk_size,
                "nonce_prefix": _b64(self.nonce_prefix),
                "chunks": self.chunks,
            },
            separators=(",", ":"),
        ).encode("ascii")

    @classmethod
    def decode(cls, raw: bytes) -> Header:
        try:
            data = json.loads(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise FormatError("the header is not readable") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise FormatError("this is not a smimehelper package header")
        if data.get("version") != VERSION:
            raise FormatError(f"package version {data.get('version')!r} is not supported")
        if data.get("kdf") != KDF_NAME or data.get("cipher") != CIPHER_NAME:
            raise FormatError("unknown key derivation or cipher")
        iterations, chunks, size = data.get("iterations"), data.get("chunks"), data.get("chunk_size")
        for value in (iterations, chunks, size):
            if type(value) is not int:
                raise FormatError("a header number is not an integer")
        if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
            raise FormatError(f"{iterations} PBKDF2 iterations is outside the allowed range")
        if size != CHUNK_SIZE or not 1 <= chunks <= MAX_CHUNKS:
            raise FormatError("chunk size or count out of range")
        salt = _unb64(data.get("salt"), SALT_BYTES)
        prefix = _unb64(data.get("nonce_prefix"), PREFIX_BYTES)
        header = cls(iterations=iterations, salt=salt, nonce_prefix=prefix, chunks=chunks, chunk_size=size)
        if header.encode() != raw:
            raise FormatError("the header is not in canonical form")
        return header


@dataclass(frozen=True)
class Keys:
    encryption: bytes
    check: bytes


def derive_keys(passphrase: str, header: Header) -> Keys:
    """PBKDF2 (the slow part) to a master secret, HKDF to one key per purpose."""
    master = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=32, salt=header.salt, iterations=header.iterations
    ).derive(normalize_passphrase(passphrase))
    return Keys(encryption=_hkdf(master, INFO_ENCRYPTION), check=_hkdf(master, INFO_CHECK))


def _hkdf(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def check_value(keys: Keys, header_bytes: bytes) -> bytes:
    """mac || SHA-256(H || mac): the mac tells a wrong passphrase, the digest accidental damage."""
    mac = hmac.new(keys.check, header_bytes, hashlib.sha256).digest()
    return mac + hashlib.sha256(header_bytes + mac).digest()


def check_is_intact(header_bytes: bytes, check: bytes) -> bool:
    """Whether header and check value are as written (no passphrase needed)."""
    return len(check) == 64 and hmac.compare_digest(hashlib.sha256(header_bytes + check[:32]).digest(), check[32:])


def passphrase_matches(keys: Keys, header_bytes: bytes, check: bytes) -> bool:
    return hmac.compare_digest(hmac.new(keys.check, header_bytes, hashlib.sha256).digest(), check[:32])


def nonce(header: Header, index: int) -> bytes:
    """prefix (7) || counter (4, big-endian) || 1 for the last chunk, else 0."""
    return header.nonce_prefix + struct.pack(">IB", index, 1 if index == header.chunks - 1 else 0)


def associated_data(header_bytes: bytes) -> bytes:
    """Every chunk authenticates SHA-256(H): a changed header fails every chunk."""
    return hashlib.sha256(header_bytes).digest()


def chunks_for(length: int) -> int:
    """A segment of ``length`` bytes takes ceil(length / 1 MiB) chunks (none when empty)."""
    return -(-length // CHUNK_SIZE)


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    content_type: str
    preview_type: str | None = None
    preview_size: int = 0


@dataclass(frozen=True)
class Manifest:
    """What the page shows before the files: who, when, the subject and the message."""

    sender: str
    created: str  # ISO 8601 UTC, e.g. 2026-03-01T09:30:00Z
    subject: str
    message: str
    files: tuple[FileEntry, ...]

    def encode(self) -> bytes:
        """Segment 0: 4-byte big-endian length, then the UTF-8 JSON."""
        body = json.dumps(
            {
                "sender": self.sender,
                "created": self.created,
                "subject": self.subject,
                "message": self.message,
                "files": [_file_json(f) for f in self.files],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        if len(body) > MAX_MANIFEST_BYTES:
            raise FormatError("the message text and file names are too long")
        return struct.pack(">I", len(body)) + body

    @classmethod
    def decode(cls, body: bytes) -> Manifest:
        try:
            data = json.loads(body.decode("utf-8"))
            files = tuple(_file_entry(f) for f in data["files"])
            manifest = cls(
                sender=_text(data["sender"]),
                created=_text(data["created"]),
                subject=_text(data["subject"]),
                message=_text(data["message"]),
                files=files,
            )
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            raise FormatError("the list of contents is not readable") from None
        return manifest

    def segment_lengths(self) -> list[int]:
        """Plaintext segments after the manifest: each file, then its preview if it has one."""
        lengths: list[int] = []
        for entry in self.files:
            lengths.append(entry.size)
            if entry.preview_type is not None:
                lengths.append(entry.preview_size)
        return lengths

    def total_chunks(self) -> int:
        return chunks_for(len(self.encode())) + sum(chunks_for(n) for n in self.segment_lengths())


PREVIEW_TYPES = ("image/jpeg", "image/png")


def _file_json(entry: FileEntry) -> dict[str, Any]:
    preview = None if entry.preview_type is None else {"type": entry.preview_type, "size": entry.preview_size}
    return {"name": entry.name, "size": entry.size, "type": entry.content_type, "preview": preview}


def _file_entry(data: Any) -> FileEntry:
    size = data["size"]
    if type(size) is not int or size < 0:
        raise ValueError("size")
    preview = data["preview"]
    if preview is None:
        return FileEntry(_text(data["name"]), size, _text(data["type"]))
    ptype, psize = preview["type"], preview["size"]
    if ptype not in PREVIEW_TYPES or type(psize) is not int or psize <= 0:
        raise ValueError("preview")
    return FileEntry(_text(data["name"]), size, _text(data["type"]), ptype, psize)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, length: int) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != length:
        raise FormatError("a header value has the wrong length")
    return raw
