"""Walk a CMS ContentInfo as a stream: decrypt EnvelopedData/AuthEnvelopedData or unwrap an
opaque SignedData, writing the inner content to ``write`` chunk by chunk.

The small structures (recipient infos, certificates, signer infos) are read whole and parsed
with asn1crypto; the content is never held in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from asn1crypto import cms, core

from ..errors import MessageFormatError
from ..identity import Identity
from . import oids
from .ber_reader import CLASS_CONTEXT, CLASS_UNIVERSAL, BerReader, Header, _garbage
from .content_cipher import CipherSpec, ContentDecryptor, parse_content_algorithm
from .keys import RecoveredKey, recover_content_key

Write = Callable[[bytes], None]


class _Container:
    """Knows when a definite or indefinite constructed value has ended."""

    def __init__(self, reader: BerReader, header: Header) -> None:
        if not header.constructed:
            raise _garbage()
        self._reader = reader
        self._end = None if header.length is None else reader.position + header.length
        self._closed = False

    def more(self) -> bool:
        if self._closed:
            return False
        if self._end is not None:
            if self._reader.position > self._end:
                raise _garbage()
            self._closed = self._reader.position == self._end
            return not self._closed
        if self._reader.peek(2) == b"\x00\x00":
            self._reader.read_exact(2)
            self._closed = True
            return False
        return True

    def finish(self) -> None:
        """Skip what remains (attributes we do not use) up to the end of this value."""
        while self.more():
            self._reader.read_element()


def read_content_info_start(reader: BerReader) -> tuple[str, _Container]:
    """Read ContentInfo up to its content; returns the content type OID and the [0] container."""
    outer = reader.read_header()
    if not outer.is_(CLASS_UNIVERSAL, 16):
        raise MessageFormatError(
            "This is not an S/MIME (CMS) structure: the encrypted or signed part holds something else."
        )
    _, oid_der = reader.read_element()
    try:
        content_type = core.ObjectIdentifier.load(oid_der).dotted
    except (ValueError, TypeError):
        raise _garbage() from None
    explicit = reader.read_header()
    if not explicit.is_(CLASS_CONTEXT, 0):
        raise _garbage()
    return content_type, _Container(reader, explicit)


@dataclass(frozen=True)
class DecryptionResult:
    cipher: CipherSpec
    key: RecoveredKey
    authenticated: bool


def decrypt_enveloped(
    reader: BerReader, content_type: str, identities: Sequence[Identity], write: Write
) -> DecryptionResult:
    """Decrypt (Auth)EnvelopedData whose ContentInfo header was read; content goes to ``write``.

    With AES-GCM the plaintext is only trustworthy once this returns: the tag is checked last.
    """
    auth = content_type == oids.AUTH_ENVELOPED_DATA
    envelope = _Container(reader, reader.read_header())
    reader.read_element()  # version
    header, element = reader.read_element()
    if header.is_(CLASS_CONTEXT, 0):  # originatorInfo: certificates we do not need
        header, element = reader.read_element()
    try:
        recipient_infos = cms.RecipientInfos.load(element)
        for info in recipient_infos:
            info.name  # parse the structure now, so damage shows here and not halfway
    except (ValueError, TypeError, KeyError):
        raise _garbage() from None
    key = recover_content_key(recipient_infos, identities)
    eci = _Container(reader, reader.read_header())
    reader.read_element()  # content type of the encrypted content (id-data)
    _, algorithm = reader.read_element()
    spec = parse_content_algorithm(algorithm)
    decryptor = ContentDecryptor(spec, key.cek)
    if not eci.more():
        raise MessageFormatError("This message contains no encrypted content (a detached envelope).")
    content = reader.read_header()
    if not content.is_(CLASS_CONTEXT, 0):
        raise _garbage()
    for chunk in reader.octet_string_chunks(content):
        plain = decryptor.update(chunk)
        if plain:
            write(plain)
    if eci.more():
        raise _garbage()
    tag = None
    while envelope.more():
        header, element = reader.read_element()
        if auth and header.is_(CLASS_CONTEXT, 1):
            raise MessageFormatError(
                "This message uses authenticated attributes in its encryption, which smimehelper "
                "does not read yet."
            )
        if auth and header.is_(CLASS_UNIVERSAL, 4):
            try:
                tag = core.OctetString.load(element).native
            except (ValueError, TypeError):
                raise _garbage() from None
    tail = decryptor.finish(tag)
    if tail:
        write(tail)
    return DecryptionResult(cipher=spec, key=key, authenticated=auth)


DIGESTS = {"sha1", "sha224", "sha256", "sha384", "sha512", "md5"}


@dataclass(frozen=True)
class SignedDataParts:
    """A SignedData without its content: what verification needs besides the digests."""

    content_type: str
    certificates: tuple[cms.CertificateChoices, ...]
    signer_infos: tuple[cms.SignerInfo, ...]
    digests: dict[str, bytes]


def hashers_for(names: set[str]) -> dict[str, "hashlib._Hash"]:
    """SHA-2 family and SHA-1 (for the verdict) — and SHA-512 for Ed25519 (RFC 8419)."""
    return {name: hashlib.new(name) for name in names if name in DIGESTS}


def read_signed_data(reader: BerReader, write: Write | None) -> SignedDataParts:
    """Read SignedData (after its ContentInfo header): stream and hash the encapsulated content."""
    signed = _Container(reader, reader.read_header())
    reader.read_element()  # version
    _, algorithms = reader.read_element()
    try:
        names = {a["algorithm"].native for a in cms.DigestAlgorithms.load(algorithms)}
    except (ValueError, TypeError, KeyError):
        raise _garbage() from None
    hashers = hashers_for(names | {"sha512"})
    encap = _Container(reader, reader.read_header())
    _, type_der = reader.read_element()
    try:
        content_type = core.ObjectIdentifier.load(type_der).dotted
    except (ValueError, TypeError):
        raise _garbage() from None
    if encap.more():
        explicit = _Container(reader, reader.read_header())
        octets = reader.read_header()
        if octets.cls != CLASS_UNIVERSAL or octets.tag != 4:
            raise _garbage()
        for chunk in reader.octet_string_chunks(octets):
            for hasher in hashers.values():
                hasher.update(chunk)
            if write is not None:
                write(chunk)
        if explicit.more():
            raise _garbage()
    elif write is not None:
        raise MessageFormatError("This signed message contains no content to show.")
    if encap.more():
        raise _garbage()
    certificates: tuple[cms.CertificateChoices, ...] = ()
    signer_infos: tuple[cms.SignerInfo, ...] = ()
    while signed.more():
        header, element = reader.read_element()
        try:
            if header.is_(CLASS_CONTEXT, 0):
                certificates = tuple(cms.CertificateSet.load(element, implicit=0))
            elif header.is_(CLASS_UNIVERSAL, 17):
                signer_infos = tuple(cms.SignerInfos.load(element))
        except (ValueError, TypeError):
            raise _garbage() from None
    return SignedDataParts(
        content_type=content_type,
        certificates=certificates,
        signer_infos=signer_infos,
        digests={name: h.digest() for name, h in hashers.items()},
    )


def parse_detached_signature(der: bytes) -> tuple[set[str], cms.SignedData]:
    """A multipart/signed signature part: the digest algorithms it needs and the SignedData."""
    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            raise MessageFormatError("The signature part of this message is not a CMS signature.")
        signed = info["content"]
        names = {a["algorithm"].native for a in signed["digest_algorithms"]}
        for signer in signed["signer_infos"]:
            names.add(signer["digest_algorithm"]["algorithm"].native)
        signed["encap_content_info"]["content_type"].dotted
        for choice in signed["certificates"] or ():
            choice.name
    except MessageFormatError:
        raise
    except Exception:
        raise MessageFormatError(
            "The signature part of this message is damaged and cannot be read."
        ) from None
    return names, signed
