"""Read certificates in the forms users actually have, and describe them.

Users get certificates as PEM or DER files (.pem .cer .crt .der), as PKCS#7 bundles (.p7b .p7c)
and inside PKCS#12 files. :class:`CertInfo` is the one frozen description every layer shows, so
the CLI, the GUI and error messages say the same things about a certificate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .errors import CertificateError
from .files import read_regular_file

MAX_CERT_FILE_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class CertInfo:
    """What a person needs to recognise and judge a certificate."""

    subject: str
    common_name: str | None
    emails: tuple[str, ...]
    issuer: str
    serial_number: int
    not_before: dt.datetime
    not_after: dt.datetime
    key_type: str  # "RSA 2048", "EC P-256"
    key_usage: tuple[str, ...]
    extended_key_usage: tuple[str, ...]
    fingerprint_sha256: str
    is_ca: bool
    self_signed: bool

    @property
    def display_name(self) -> str:
        return self.common_name or (self.emails[0] if self.emails else self.subject)


_NAME_LABELS = {NameOID.EMAIL_ADDRESS: "E"}


def name_text(name: x509.Name) -> str:
    """RFC 4514 text with emailAddress shown as "E" (as Windows shows it), not as an OID."""
    return name.rfc4514_string(_NAME_LABELS)


def describe(cert: x509.Certificate) -> CertInfo:
    """Summarise ``cert`` for display and checks."""
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = bc.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return CertInfo(
        subject=name_text(cert.subject),
        common_name=_first_attr(cert.subject, NameOID.COMMON_NAME),
        emails=cert_emails(cert),
        issuer=name_text(cert.issuer),
        serial_number=cert.serial_number,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=key_type_name(cert.public_key()),
        key_usage=_key_usage_names(cert),
        extended_key_usage=_eku_names(cert),
        fingerprint_sha256=fingerprint_sha256(cert),
        is_ca=is_ca,
        self_signed=cert.issuer == cert.subject,
    )


def fingerprint_sha256(cert: x509.Certificate) -> str:
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def cert_emails(cert: x509.Certificate) -> tuple[str, ...]:
    """E-mail addresses of the certificate: subjectAltName first, then the subject's emailAddress.

    Addresses are lower-cased for comparison; mail clients match them case-insensitively.
    """
    found: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        found.extend(san.get_values_for_type(x509.RFC822Name))
    except x509.ExtensionNotFound:
        pass
    for attr in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS):
        found.append(str(attr.value))
    unique: list[str] = []
    for email in found:
        email = email.strip().lower()
        if email and email not in unique:
            unique.append(email)
    return tuple(unique)


def key_type_name(key: object) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "EC P-256", "secp384r1": "EC P-384", "secp521r1": "EC P-521"}.get(
            key.curve.name, f"EC {key.curve.name}"
        )
    return type(key).__name__.replace("PublicKey", "")  # X25519, X448, Ed25519, Ed448, DSA


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Load every certificate from a PEM, DER or PKCS#7 (.p7b/.p7c, PEM or DER) file."""
    data = read_small_file(path, what="certificate file")
    certs = parse_certificates(data)
    if not certs:
        raise CertificateError(
            f"{path} does not contain a certificate. Expected a .pem, .cer, .crt, .der or .p7b file."
        )
    return certs


def load_certificate(path: Path) -> x509.Certificate:
    """Load the single end-entity certificate of a file (the first non-CA one when there are many)."""
    certs = load_certificates(path)
    leaves = [c for c in certs if not describe(c).is_ca]
    return (leaves or certs)[0]


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    """Parse certificates from bytes of any supported encoding; [] when none is recognised."""
    stripped = data.lstrip()
    if stripped.startswith(b"-----BEGIN"):
        if b"-----BEGIN PKCS7-----" in data or b"-----BEGIN CMS-----" in data:
            from cryptography.hazmat.primitives.serialization import pkcs7  # only for bundles: not at start-up

            try:
                return list(pkcs7.load_pem_pkcs7_certificates(data))
            except ValueError:
                return []
        try:
            return list(x509.load_pem_x509_certificates(data))
        except ValueError:
            return []
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        pass
    from cryptography.hazmat.primitives.serialization import pkcs7

    try:
        return list(pkcs7.load_der_pkcs7_certificates(data))
    except ValueError:
        return []


def read_small_file(path: Path, *, what: str, limit: int = MAX_CERT_FILE_BYTES) -> bytes:
    """A small file (certificate, key, passphrase): :func:`smimehelper.core.files.read_regular_file`
    with the certificate-sized default cap (kept under this name for existing callers)."""
    return read_regular_file(path, what, limit)


def _first_attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    attrs = name.get_attributes_for_oid(oid)
    return str(attrs[0].value) if attrs else None


_KU_FIELDS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def _key_usage_names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return ()
    names = [field for field in _KU_FIELDS if getattr(ku, field)]
    if ku.key_agreement:
        if ku.encipher_only:
            names.append("encipher_only")
        if ku.decipher_only:
            names.append("decipher_only")
    return tuple(names)


_EKU_NAMES = {
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


def _eku_names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku)
