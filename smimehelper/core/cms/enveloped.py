"""Streaming EnvelopedData (AES-256-CBC) and AuthEnvelopedData (AES-256-GCM, RFC 5083/5084).

:class:`EnvelopeEncoder` takes the content in pieces and returns BER pieces; nothing is held back
but one cipher block, so a 1 GB study is encrypted in constant memory. The containers around the
encrypted content have indefinite lengths and the content is a constructed OCTET STRING of
segments, exactly the shape ``openssl cms -stream`` and Thunderbird write.

For speed (a study is hundreds of MB) :meth:`EnvelopeEncoder.stream` encrypts straight into
reused buffers (``update_into``: no new ``bytes`` per chunk, no copy), with each segment's BER
header in front, and hands out blocks whose sizes suit the base64 layer that follows. CBC padding
(PKCS #7) is added at the end by hand instead of by a padder, which would copy every byte once more.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import Enum

from asn1crypto import cms, core
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..pipeline import AlignedBlocks, BufferRing
from . import ber, oids
from .recipients import Recipient, recipient_info


class ContentCipher(Enum):
    AES256_CBC = "aes256-cbc"
    AES256_GCM = "aes256-gcm"


class _GcmParameters(core.Sequence):
    """GCMParameters (RFC 5084). The ICV length is written explicitly: 16 bytes, the full tag."""

    _fields = [
        ("aes_nonce", core.OctetString),
        ("aes_icvlen", core.Integer, {"default": 12}),
    ]


class _RawAlgorithm(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


GCM_TAG_BYTES = 16
GCM_NONCE_BYTES = 12
AES_BLOCK = 16
# What a segment needs beyond its plaintext's size in an output buffer: the OCTET STRING header
# (tag, 0x84 and four length bytes at most) and the 15 bytes update_into wants spare.
SEGMENT_OVERHEAD = 6 + AES_BLOCK - 1


class EnvelopeEncoder:
    """Encrypt a content stream for ``recipients``; call :meth:`start`, :meth:`update`*, :meth:`finish`."""

    def __init__(
        self,
        recipients: Sequence[Recipient],
        cipher: ContentCipher = ContentCipher.AES256_CBC,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if not recipients:
            raise ValueError("at least one recipient is needed")
        self.cipher = cipher
        cek = random_bytes(32)
        self._recipient_infos = cms.RecipientInfos([recipient_info(r, cek) for r in recipients])
        if cipher is ContentCipher.AES256_GCM:
            nonce = random_bytes(GCM_NONCE_BYTES)
            self._algorithm = _RawAlgorithm(
                {
                    "algorithm": oids.AES256_GCM,
                    "parameters": core.Any.load(
                        _GcmParameters({"aes_nonce": nonce, "aes_icvlen": GCM_TAG_BYTES}).dump(
                            force=True
                        )
                    ),
                }
            )
            self._encryptor = Cipher(algorithms.AES(cek), modes.GCM(nonce)).encryptor()
        else:
            iv = random_bytes(16)
            self._algorithm = _RawAlgorithm(
                {"algorithm": oids.AES256_CBC, "parameters": core.Any.load(core.OctetString(iv).dump())}
            )
            self._encryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
        self._fed = 0  # plaintext bytes given to the cipher so far
        del cek

    @property
    def smime_type(self) -> str:
        return "authEnveloped-data" if self.cipher is ContentCipher.AES256_GCM else "enveloped-data"

    def start(self) -> bytes:
        """Everything before the first encrypted byte."""
        auth = self.cipher is ContentCipher.AES256_GCM
        content_type = oids.AUTH_ENVELOPED_DATA if auth else oids.ENVELOPED_DATA
        version = core.Integer(self._version()).dump()
        return b"".join(
            [
                ber.indefinite(ber.TAG_SEQUENCE),  # ContentInfo
                core.ObjectIdentifier(content_type).dump(),
                ber.indefinite(ber.TAG_CONTEXT_0_CONSTRUCTED),  # [0] EXPLICIT content
                ber.indefinite(ber.TAG_SEQUENCE),  # (Auth)EnvelopedData
                version,
                self._recipient_infos.dump(force=True),
                ber.indefinite(ber.TAG_SEQUENCE),  # EncryptedContentInfo
                core.ObjectIdentifier(oids.DATA).dump(),
                self._algorithm.dump(force=True),
                ber.indefinite(ber.TAG_CONTEXT_0_CONSTRUCTED),  # [0] IMPLICIT OCTET STRING
            ]
        )

    def update(self, data: bytes | memoryview) -> tuple[bytes, ...]:
        """Encrypted pieces for ``data``: a segment header and its bytes, kept apart (no copy)."""
        encrypted = self._encryptor.update(data)
        self._fed += len(data)
        if not encrypted:
            return ()
        return ber.octet_string_header(len(encrypted)), encrypted

    def encrypted_size(self, size: int) -> int:
        """How many encrypted bytes the next ``size`` plaintext bytes give (CBC holds back a
        partial block until more comes or :meth:`finish`)."""
        if self.cipher is ContentCipher.AES256_GCM:
            return size
        return (self._fed % AES_BLOCK + size) // AES_BLOCK * AES_BLOCK

    def update_into(self, data: bytes | memoryview, out: memoryview) -> int:
        """Write the segment for ``data`` (header and encrypted bytes) into ``out``; return its
        length (0 when CBC only buffered it). ``out`` needs ``len(data) + SEGMENT_OVERHEAD`` bytes."""
        size = self.encrypted_size(len(data))
        if not size:
            if self._encryptor.update(data):  # pragma: no cover - encrypted_size is exact
                raise AssertionError("the cipher returned bytes where none were expected")
            self._fed += len(data)
            return 0
        header = ber.octet_string_header(size)
        start = len(header)
        out[:start] = header
        written = self._encryptor.update_into(data, out[start:])
        if written != size:  # pragma: no cover - encrypted_size is exact
            raise AssertionError(f"the cipher wrote {written} bytes, {size} were expected")
        self._fed += len(data)
        return start + size

    def finish(self) -> bytes:
        tail = b""
        if self.cipher is ContentCipher.AES256_CBC:
            pad = AES_BLOCK - self._fed % AES_BLOCK  # PKCS #7: 1..16 bytes, each the count
            tail = self._encryptor.update(bytes([pad]) * pad)
        tail += self._encryptor.finalize()
        pieces = [
            ber.octet_string(tail) if tail else b"",
            ber.END_OF_CONTENTS,  # [0] encryptedContent
            ber.END_OF_CONTENTS,  # EncryptedContentInfo
        ]
        if self.cipher is ContentCipher.AES256_GCM:
            pieces.append(core.OctetString(self._encryptor.tag).dump())  # type: ignore[attr-defined]
        pieces += [
            ber.END_OF_CONTENTS,  # (Auth)EnvelopedData
            ber.END_OF_CONTENTS,  # [0] EXPLICIT content
            ber.END_OF_CONTENTS,  # ContentInfo
        ]
        return b"".join(pieces)

    def stream(
        self, content: Iterable[bytes | memoryview], ring: BufferRing, align: int = 1
    ) -> Iterator[memoryview]:
        """The whole encoding (:meth:`start`, the encrypted ``content``, :meth:`finish`) as views
        into ``ring``'s buffers, one block per buffer. Every block but the last is a multiple of
        ``align`` bytes (57 for base64 lines: the next layer never has to join two blocks).
        Content pieces are never kept: each is encrypted before the next is asked for."""
        blocks = AlignedBlocks(ring, align)
        max_piece = blocks.capacity - SEGMENT_OVERHEAD
        if max_piece < AES_BLOCK:
            raise ValueError("the ring's buffers are too small for encrypted segments")
        yield from blocks.put(self.start())
        for piece in content:
            view = memoryview(piece).cast("B")
            for offset in range(0, len(view), max_piece):
                part = view[offset : offset + max_piece]
                if blocks.room < len(part) + SEGMENT_OVERHEAD:
                    yield blocks.take()
                blocks.advance(self.update_into(part, blocks.free))
                if blocks.full_enough:
                    yield blocks.take()
        yield from blocks.put(self.finish())
        yield blocks.take(last=True)

    def _version(self) -> int:
        """RFC 5652 6.1: 2 once any RecipientInfo is not v0 (KARI is v3); RFC 5083: always 0."""
        if self.cipher is ContentCipher.AES256_GCM:
            return 0
        kinds = {info.name for info in self._recipient_infos}
        return 2 if kinds - {"ktri"} else 0
