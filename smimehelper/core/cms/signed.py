"""Detached CMS SignedData for multipart/signed (RFC 8551 section 3.5.3).

The content is hashed while the MIME is streamed out; this module only turns the finished digest
into the signature part, so signing never needs the content in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from asn1crypto import cms, core, x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ..identity import Identity
from . import ber, oids


def issuer_and_serial(cert: x509.Certificate) -> cms.IssuerAndSerialNumber:
    parsed = to_asn1(cert)
    return cms.IssuerAndSerialNumber(
        {"issuer": parsed.issuer, "serial_number": parsed.serial_number}
    )


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def signing_time_value(when: dt.datetime) -> cms.Time:
    """UTCTime until 2049, GeneralizedTime after (RFC 5652 section 11.3)."""
    when = when.astimezone(dt.timezone.utc).replace(microsecond=0)
    if 1950 <= when.year <= 2049:
        return cms.Time({"utc_time": when})
    return cms.Time({"general_time": when})


def _attribute(oid: str, value: core.Asn1Value | bytes) -> bytes:
    """DER of Attribute ::= SEQUENCE { attrType OID, attrValues SET OF ANY } with one value.

    Built from bytes so that each value is exactly the DER given (asn1crypto would re-type the
    values of attributes it knows).
    """
    der = value if isinstance(value, bytes) else value.dump()
    values = bytes([0x31]) + ber.der_length(len(der)) + der
    body = core.ObjectIdentifier(oid).dump() + values
    return bytes([0x30]) + ber.der_length(len(body)) + body


def signed_attributes(
    *,
    digest: bytes,
    signing_time: dt.datetime,
    capabilities: bytes,
    encryption_cert: x509.Certificate,
) -> cms.CMSAttributes:
    """The signed attributes of the profile: what Outlook and Thunderbird read from a signature.

    The two key-preference attributes tell the recipient which of our certificates to encrypt
    replies to (RFC 8551's for standard clients, Microsoft's for Outlook).
    """
    ias = issuer_and_serial(encryption_cert)
    encoded = sorted(
        [
            _attribute(oids.ATTR_CONTENT_TYPE, core.ObjectIdentifier(oids.DATA)),
            _attribute(oids.ATTR_SIGNING_TIME, signing_time_value(signing_time)),
            _attribute(oids.ATTR_MESSAGE_DIGEST, core.OctetString(digest)),
            _attribute(oids.ATTR_SMIME_CAPABILITIES, capabilities),
            _attribute(
                oids.ATTR_ENCRYPTION_KEY_PREFERENCE,
                cms.SMIMEEncryptionKeyPreference({"issuer_and_serial_number": ias}),
            ),
            _attribute(oids.ATTR_MS_ENCRYPTION_KEY_PREFERENCE, ias),
        ]
    )
    # DER: the elements of a SET OF are sorted by their encodings (X.690 11.6).
    body = b"".join(encoded)
    return cms.CMSAttributes.load(bytes([0x31]) + ber.der_length(len(body)) + body)


def detached_signature(
    identity: Identity,
    *,
    digest: bytes,
    signing_time: dt.datetime,
    capabilities: bytes,
    extra_certs: Sequence[x509.Certificate] = (),
) -> bytes:
    """DER ContentInfo(SignedData) over content whose SHA-256 is ``digest``.

    The certificates are the signer's and its chain without the root: a recipient must decide
    trust from their own anchors, never from what a message brings along.
    """
    attrs = signed_attributes(
        digest=digest,
        signing_time=signing_time,
        capabilities=capabilities,
        encryption_cert=identity.cert,
    )
    # The signature covers the DER of the attributes as a SET OF (tag 0x31), not as [0].
    to_be_signed = attrs.dump()
    key = identity.key
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(to_be_signed, padding.PKCS1v15(), hashes.SHA256())
        signature_algorithm = {"algorithm": "rsassa_pkcs1v15", "parameters": core.Null()}
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(to_be_signed, ec.ECDSA(hashes.SHA256()))
        signature_algorithm = {"algorithm": oids.ECDSA_WITH_SHA256}
    else:  # pragma: no cover - Identity only holds RSA or EC keys
        raise TypeError(f"unsupported key {type(key).__name__}")

    certificates = [identity.cert, *identity.chain_without_root(), *extra_certs]
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": issuer_and_serial(identity.cert)}),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": attrs,
            "signature_algorithm": signature_algorithm,
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "data"},
            "certificates": [cms.CertificateChoices({"certificate": to_asn1(c)}) for c in _unique(certificates)],
            "signer_infos": [signer_info],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def _unique(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    seen: list[x509.Certificate] = []
    for cert in certs:
        if cert not in seen:
            seen.append(cert)
    return seen
