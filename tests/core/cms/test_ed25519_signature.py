"""Ed25519 signatures (RFC 8419) on the reading side.

No tool on this machine writes them (OpenSSL 3.0 cannot sign CMS with Ed25519, cryptography's
PKCS#7 builder takes only RSA and EC), so the SignedData is assembled here with the RFC's
rules (SHA-512 message digest, id-Ed25519 signature over the DER signed attributes). This
exercises our verifier, including a tampered case; it is not an interoperability claim.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from smimehelper.core.cms.capabilities import our_capabilities
from smimehelper.core.cms.signed import issuer_and_serial, signed_attributes, to_asn1
from smimehelper.core.reader import open_message
from tests.pki.make_pki import Pki

CONTENT = b"Content-Type: text/plain; charset=utf-8\r\n\r\nEd25519 signed\r\n"


def _message(pki: Pki, tmp_path: Path, content: bytes = CONTENT) -> Path:
    key = ed25519.Ed25519PrivateKey.generate()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ed"), x509.NameAttribute(NameOID.EMAIL_ADDRESS, "ed@example.org")]))
        .issuer_name(pki.inter.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(pki.now - dt.timedelta(days=1)).not_valid_after(pki.now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name("ed@example.org")]), critical=False)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .sign(pki.inter.key, hashes.SHA256())
    )
    attrs = signed_attributes(digest=hashlib.sha512(CONTENT).digest(), signing_time=pki.now,
                              capabilities=our_capabilities(), encryption_cert=cert)
    signer = cms.SignerInfo({
        "version": "v1", "sid": {"issuer_and_serial_number": issuer_and_serial(cert)},
        "digest_algorithm": {"algorithm": "sha512"}, "signed_attrs": attrs,
        "signature_algorithm": {"algorithm": "ed25519"}, "signature": key.sign(attrs.dump()),
    })
    signed = cms.ContentInfo({"content_type": "signed_data", "content": {
        "version": "v1", "digest_algorithms": [{"algorithm": "sha512"}], "encap_content_info": {"content_type": "data"},
        "certificates": [to_asn1(cert), to_asn1(pki.inter.cert)], "signer_infos": [signer]}})
    signature = base64.encodebytes(signed.dump()).replace(b"\n", b"\r\n")
    path = tmp_path / "ed.eml"
    path.write_bytes(
        b"From: ed@example.org\r\nTo: alice@example.org\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-512; boundary="b"\r\n\r\n'
        b"--b\r\n" + content + b"\r\n--b\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + signature + b"--b--\r\n"
    )
    return path


def test_ed25519_signature_is_valid_and_trusted(pki: Pki, tmp_path: Path) -> None:
    opened = open_message(_message(pki, tmp_path), anchors=[pki.root.cert], now=pki.now)
    (verdict,) = opened.signatures
    assert (verdict.valid, verdict.trusted, verdict.digest) == (True, True, "sha512"), verdict.reason
    assert opened.body_text == "Ed25519 signed\n"


def test_ed25519_signature_over_changed_content_is_not_valid(pki: Pki, tmp_path: Path) -> None:
    opened = open_message(_message(pki, tmp_path, CONTENT.replace(b"Ed25519", b"Ed448!!")), anchors=[pki.root.cert], now=pki.now)
    assert not opened.signatures[0].valid
