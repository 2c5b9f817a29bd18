"""Content decryption for what S/MIME clients send: AES-CBC, AES-GCM, and 3DES for old mail.

3DES is read so that old messages stay readable, and reported as weak; nothing here ever
encrypts with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import core
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import DecryptionError, MessageFormatError
from . import oids

_CBC = {
    oids.AES128_CBC: ("aes128-cbc", 16),
    oids.AES192_CBC: ("aes192-cbc", 24),
    oids.AES256_CBC: ("aes256-cbc", 32),
    oids.TRIPLE_DES_CBC: ("3des-cbc", 24),
}
_GCM = {
    oids.AES128_GCM: ("aes128-gcm", 16),
    oids.AES192_GCM: ("aes192-gcm", 24),
    oids.AES256_GCM: ("aes256-gcm", 32),
}
WEAK_CIPHERS = {"3des-cbc"}


class _Algorithm(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _GcmParameters(core.Sequence):
    _fields = [("aes_nonce", core.OctetString), ("aes_icvlen", core.Integer, {"default": 12})]


@dataclass(frozen=True)
class CipherSpec:
    oid: str
    name: str
    key_bytes: int
    iv: bytes
    tag_bytes: int = 0  # GCM only

    @property
    def authenticated(self) -> bool:
        return self.tag_bytes > 0

    @property
    def weak(self) -> bool:
        return self.name in WEAK_CIPHERS


def parse_content_algorithm(der: bytes) -> CipherSpec:
    try:
        algorithm = _Algorithm.load(der)
        oid = algorithm["algorithm"].dotted
        if oid in _CBC:
            name, size = _CBC[oid]
            iv = core.OctetString.load(algorithm["parameters"].dump()).native
            if len(iv) != (8 if name == "3des-cbc" else 16):
                raise MessageFormatError("The encryption parameters of this message are damaged.")
            return CipherSpec(oid, name, size, iv)
        if oid in _GCM:
            name, size = _GCM[oid]
            params = _GcmParameters.load(algorithm["parameters"].dump())
            nonce = params["aes_nonce"].native
            tag = params["aes_icvlen"].native
            if not 12 <= tag <= 16 or not nonce:
                raise MessageFormatError("The encryption parameters of this message are damaged.")
            return CipherSpec(oid, name, size, nonce, tag)
    except (ValueError, TypeError, KeyError):
        raise MessageFormatError("The encryption parameters of this message are damaged.") from None
    names = {"1.2.840.113549.3.2": "RC2", "1.3.14.3.2.7": "DES"}
    raise DecryptionError(
        f"This message is encrypted with {names.get(oid, oid)}, an obsolete or unknown cipher that "
        "smimehelper does not read. Ask the sender to send it again with a current mail program."
    )


class ContentDecryptor:
    """Streaming decryption; :meth:`finish` checks padding (CBC) or the tag (GCM)."""

    def __init__(self, spec: CipherSpec, key: bytes) -> None:
        if len(key) != spec.key_bytes:
            raise DecryptionError(
                "The key recovered for this message does not fit its cipher: wrong key or a "
                "damaged message."
            )
        self.spec = spec
        if spec.authenticated:
            self._decryptor = Cipher(algorithms.AES(key), modes.GCM(spec.iv, min_tag_length=spec.tag_bytes)).decryptor()
            self._unpadder = None
        else:
            algorithm = TripleDES(key) if spec.name == "3des-cbc" else algorithms.AES(key)
            self._decryptor = Cipher(algorithm, modes.CBC(spec.iv)).decryptor()
            self._unpadder = sym_padding.PKCS7(64 if spec.name == "3des-cbc" else 128).unpadder()

    def update(self, data: bytes) -> bytes:
        plain = self._decryptor.update(data)
        return self._unpadder.update(plain) if self._unpadder is not None else plain

    def finish(self, tag: bytes | None = None) -> bytes:
        try:
            if self.spec.authenticated:
                if tag is None or len(tag) != self.spec.tag_bytes:
                    raise MessageFormatError("The integrity tag of this message is missing or damaged.")
                return self._decryptor.finalize_with_tag(tag)  # type: ignore[attr-defined]
            assert self._unpadder is not None
            return self._unpadder.update(self._decryptor.finalize()) + self._unpadder.finalize()
        except MessageFormatError:
            raise
        except Exception:
            if self.spec.authenticated:
                raise DecryptionError(
                    "This message was altered after it was encrypted (its integrity check "
                    "failed). Do not trust it; ask the sender to send it again."
                ) from None
            raise DecryptionError(
                "The message could not be decrypted: wrong key, or the message is damaged."
            ) from None
