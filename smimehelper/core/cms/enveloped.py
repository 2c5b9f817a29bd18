"""Streaming EnvelopedData (AES-256-CBC) and AuthEnvelopedData (AES-256-GCM, RFC 5083/5084).

:class:`EnvelopeEncoder` takes the content in pieces and returns BER pieces; nothing is held back
but one cipher block, so a 1 GB study is encrypted in constant memory. The containers around the
encrypted content have indefinite lengths and the content is a constructed OCTET STRING of
segments, exactly the shape ``openssl cms -stream`` and Thunderbird write.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from enum import Enum

from asn1crypto import cms, core
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

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
            self._padder = None
        else:
            iv = random_bytes(16)
            self._algorithm = _RawAlgorithm(
                {"algorithm": oids.AES256_CBC, "parameters": core.Any.load(core.OctetString(iv).dump())}
            )
            self._encryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
            self._padder = sym_padding.PKCS7(128).padder()
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
        if self._padder is not None:
            data = self._padder.update(data)
        encrypted = self._encryptor.update(data)
        if not encrypted:
            return ()
        return ber.octet_string_header(len(encrypted)), encrypted

    def finish(self) -> bytes:
        tail = b""
        if self._padder is not None:
            tail = self._encryptor.update(self._padder.finalize())
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

    def _version(self) -> int:
        """RFC 5652 6.1: 2 once any RecipientInfo is not v0 (KARI is v3); RFC 5083: always 0."""
        if self.cipher is ContentCipher.AES256_GCM:
            return 0
        kinds = {info.name for info in self._recipient_infos}
        return 2 if kinds - {"ktri"} else 0
