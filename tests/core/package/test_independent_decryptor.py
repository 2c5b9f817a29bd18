"""A decryptor written from docs/package-format.md alone, with ``cryptography``, ``hashlib`` and
the standard library: it does not import smimehelper's reader or format module, so a package the
project makes is judged against the document, not against the code that made it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from tests.core.package.helpers import PASSPHRASE, make_files, make_package

MIB = 1048576
_WS = re.compile("[\t\n\u000b\u000c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+")


class _DataBlocks(HTMLParser):
    """Section 1: the data blocks in document order, as (type, id, text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.blocks: list[tuple[str, str | None, str]] = []
        self._open: tuple[str, str | None] | None = None
        self._text: list[str] = []
        self.generator: str | None = None

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        a = dict(attrs)
        if tag == "meta" and a.get("name") == "generator":
            self.generator = a.get("content")
        if tag == "script" and (a.get("type") or "").startswith("application/vnd.smimehelper."):
            self._open, self._text = (a["type"], a.get("id")), []

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag == "script" and self._open:
            self.blocks.append((*self._open, "".join(self._text)))
            self._open = None


def _b64(text: str) -> bytes:
    return base64.b64decode(re.sub(r"[\t\n\f\r ]", "", text), validate=True)


def decrypt_from_spec(page: bytes, passphrase: str) -> dict:
    parser = _DataBlocks()
    parser.feed(page.decode("utf-8"))
    assert parser.generator == "smimehelper package 1"
    blocks = parser.blocks
    assert blocks[0][:2] == ("application/vnd.smimehelper.header", "sh-header")
    assert blocks[1][:2] == ("application/vnd.smimehelper.check", "sh-check")
    H, K = _b64(blocks[0][2]), _b64(blocks[1][2])
    chunks = [_b64(t) for kind, ident, t in blocks[2:] if kind == "application/vnd.smimehelper.chunk" and ident is None]
    header = json.loads(H)
    assert list(header) == ["format", "version", "kdf", "iterations", "salt", "cipher", "chunk_size", "nonce_prefix", "chunks"]
    assert json.dumps(header, separators=(",", ":")).encode() == H
    assert header["format"] == "smimehelper-package" and header["version"] == 1
    assert header["iterations"] >= 600_000 and header["chunk_size"] == MIB and header["chunks"] == len(chunks)
    salt, prefix = base64.b64decode(header["salt"]), base64.b64decode(header["nonce_prefix"])
    assert len(salt) == 16 and len(prefix) == 7
    # Section 3.
    assert hashlib.sha256(H + K[:32]).digest() == K[32:], "damaged"
    p = _WS.sub(" ", unicodedata.normalize("NFC", passphrase.lower())).strip(" ").encode()
    master = PBKDF2HMAC(hashes.SHA256(), 32, salt, header["iterations"]).derive(p)
    enc_key = HKDF(hashes.SHA256(), 32, b"\x00" * 32, b"smimehelper package v1 encryption key").derive(master)
    check_key = HKDF(hashes.SHA256(), 32, b"", b"smimehelper package v1 header check").derive(master)
    if not hmac.compare_digest(hmac.new(check_key, H, hashlib.sha256).digest(), K[:32]):
        raise PermissionError("wrong passphrase")
    # Section 4.
    aad = hashlib.sha256(H).digest()
    n = len(chunks)
    plain = [
        AESGCM(enc_key).decrypt(prefix + struct.pack(">I", i) + (b"\x01" if i == n - 1 else b"\x00"), c, aad)
        for i, c in enumerate(chunks)
    ]
    # Section 5.
    position = 0

    def segment(length: int) -> bytes:
        nonlocal position
        count = -(-length // MIB)
        parts = plain[position : position + count]
        for j, part in enumerate(parts):
            assert len(part) == min(MIB, length - j * MIB)
        position += count
        return b"".join(parts)

    (m,) = struct.unpack(">I", plain[0][:4])
    manifest = json.loads(segment(4 + m)[4:].decode("utf-8"))
    files = {}
    for entry in manifest["files"]:
        files[entry["name"]] = segment(entry["size"])
        if entry["preview"] is not None:
            preview = segment(entry["preview"]["size"])
            assert preview[:3] == b"\xff\xd8\xff" or preview[:8] == b"\x89PNG\r\n\x1a\n"
    assert position == n
    return {"manifest": manifest, "files": files}


def test_a_package_opens_with_a_decryptor_written_from_the_document(tmp_path: Path) -> None:
    originals = make_files(tmp_path / "in")
    page = make_package(tmp_path / "package.html", originals).path.read_bytes()
    result = decrypt_from_spec(page, "  " + PASSPHRASE.title() + " ")
    assert result["manifest"]["sender"] == "Dr Alice Example <alice@example.org>"
    assert result["manifest"]["created"] == "2026-06-01T12:00:00Z"
    for path in originals:
        assert hashlib.sha256(result["files"][path.name]).digest() == hashlib.sha256(path.read_bytes()).digest()
    dicom = next(e for e in result["manifest"]["files"] if e["name"] == "bitewing.dcm")
    assert dicom["type"] == "application/dicom" and dicom["preview"]["type"] == "image/jpeg"


def test_the_independent_decryptor_rejects_a_wrong_passphrase(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    page = make_package(tmp_path / "p.html", [tmp_path / "a.txt"]).path.read_bytes()
    with pytest.raises(PermissionError):
        decrypt_from_spec(page, "not the passphrase at all")
