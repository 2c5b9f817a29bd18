"""X25519/X448 key agreement (RFC 8418) on the reading side.

No tool here writes such messages (OpenSSL 3.0 and NSS 3.87 refuse X25519 recipients), so the
key derivation is anchored to numbers computed by an independent implementation (the Rust
smime-rs project, for fixed keys: RFC 7748's sample scalar as the ephemeral key, no ukm,
aes128-wrap), and the message around it is assembled here.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from asn1crypto import cms, core, keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import x448, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.x509.oid import NameOID

from smimehelper.core.cms.keys import _ecc_cms_shared_info
from smimehelper.core.identity import Identity
from smimehelper.core.reader import open_message
from tests.pki.make_pki import Pki

RECIPIENT = bytes.fromhex("B8CA0426D44BADBF6D8749F4459804459D7177769689CBC1D6456D08DE843667")
EPHEMERAL = bytes.fromhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")
AES128_WRAP_ABSENT = bytes.fromhex("300b0609608648016503040105")
EXPECTED_KEK = {  # computed by smime-rs for these keys
    "x963-sha256": bytes.fromhex("617e218f7b0fd0844bccf741641bdb94"),
    "hkdf-sha256": bytes.fromhex("602505f4bd2651aff69c88c4ba6101f9"),
}


def _shared() -> bytes:
    ephemeral = x25519.X25519PrivateKey.from_private_bytes(EPHEMERAL)
    return x25519.X25519PrivateKey.from_private_bytes(RECIPIENT).exchange(ephemeral.public_key())


def test_shared_info_matches_rfc_8418_layout() -> None:
    assert _ecc_cms_shared_info(AES128_WRAP_ABSENT, None, 128).hex() == "3015300b0609608648016503040105a206040400000080"


def test_kek_derivation_matches_an_independent_implementation() -> None:
    info = _ecc_cms_shared_info(AES128_WRAP_ABSENT, None, 128)
    assert X963KDF(hashes.SHA256(), 16, info).derive(_shared()) == EXPECTED_KEK["x963-sha256"]
    assert HKDF(hashes.SHA256(), 16, salt=None, info=info).derive(_shared()) == EXPECTED_KEK["hkdf-sha256"]


def _certificate(pki: Pki, public_key: object) -> x509.Certificate:
    inter = pki.inter
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Xena"),
                                 x509.NameAttribute(NameOID.EMAIL_ADDRESS, "xena@example.org")]))
        .issuer_name(inter.cert.subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(pki.now - dt.timedelta(days=1))
        .not_valid_after(pki.now + dt.timedelta(days=365))
        .add_extension(x509.KeyUsage(False, False, False, False, True, False, False, False, False), critical=True)
        .sign(inter.key, hashes.SHA256())
    )


def _message(pki: Pki, tmp_path: Path, recipient_key, ephemeral_key, algorithm: str, scheme: str, ukm: bytes | None) -> tuple[Path, Identity]:
    cert = _certificate(pki, recipient_key.public_key())
    cek, iv = os.urandom(16), os.urandom(16)
    shared = ephemeral_key.exchange(recipient_key.public_key())
    info = _ecc_cms_shared_info(AES128_WRAP_ABSENT, ukm, 128)
    if scheme == "1.2.840.113549.1.9.16.3.19":
        kek = HKDF(hashes.SHA256(), 16, salt=ukm, info=info).derive(shared)
    else:
        kek = X963KDF(hashes.SHA256(), 16, info).derive(shared)
    ephemeral_public = ephemeral_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    parsed = x509.load_der_x509_certificate(cert.public_bytes(serialization.Encoding.DER))
    from asn1crypto import x509 as asn1_x509

    asn1_cert = asn1_x509.Certificate.load(parsed.public_bytes(serialization.Encoding.DER))
    kari = {
        "version": "v3",
        "originator": cms.OriginatorIdentifierOrKey({"originator_key": asn1_keys.PublicKeyInfo({
            "algorithm": {"algorithm": algorithm}, "public_key": ephemeral_public})}),
        "key_encryption_algorithm": {"algorithm": scheme, "parameters": core.Any.load(AES128_WRAP_ABSENT)},
        "recipient_encrypted_keys": [{
            "rid": {"issuer_and_serial_number": {"issuer": asn1_cert.issuer, "serial_number": asn1_cert.serial_number}},
            "encrypted_key": keywrap.aes_key_wrap(kek, cek)}],
    }
    if ukm is not None:
        kari["ukm"] = ukm
    padder = sym_padding.PKCS7(128).padder()
    plain = b"Content-Type: text/plain\r\n\r\ndeterministic X25519 test\r\n"
    encryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    enveloped = cms.ContentInfo({"content_type": "enveloped_data", "content": {
        "version": "v2",
        "recipient_infos": [cms.RecipientInfo({"kari": kari})],
        "encrypted_content_info": {"content_type": "data",
                                   "content_encryption_algorithm": {"algorithm": "aes128_cbc", "parameters": iv},
                                   "encrypted_content": ciphertext}}})
    import base64

    path = tmp_path / "x.eml"
    path.write_bytes(
        b"From: alice@example.org\r\nTo: xena@example.org\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(enveloped.dump()).replace(b"\n", b"\r\n")
    )
    return path, Identity(key=recipient_key, cert=cert, chain=())


@pytest.mark.parametrize("scheme", ["1.3.132.1.11.1", "1.2.840.113549.1.9.16.3.19"], ids=["x963-sha256", "hkdf-sha256"])
@pytest.mark.parametrize("ukm", [None, os.urandom(32)], ids=["no-ukm", "ukm"])
@pytest.mark.parametrize("curve", ["x25519", "x448"])
def test_decrypts_rfc_8418_messages(pki: Pki, tmp_path: Path, scheme: str, ukm: bytes | None, curve: str) -> None:
    if curve == "x25519":
        recipient, ephemeral = x25519.X25519PrivateKey.from_private_bytes(RECIPIENT), x25519.X25519PrivateKey.from_private_bytes(EPHEMERAL)
        algorithm = "1.3.101.110"
    else:
        recipient, ephemeral = x448.X448PrivateKey.generate(), x448.X448PrivateKey.generate()
        algorithm = "1.3.101.111"
    path, identity = _message(pki, tmp_path, recipient, ephemeral, algorithm, scheme, ukm)
    opened = open_message(path, identities=[identity], now=pki.now)
    assert opened.decrypted, opened.decryption_problem
    assert opened.encryption == "aes128-cbc"
    assert (opened.body_text or "").strip() == "deterministic X25519 test"


def test_all_zero_shared_secret_is_refused(pki: Pki, tmp_path: Path) -> None:
    """A small-order ephemeral point (here: zero) gives an all-zero secret: RFC 8418 says abort."""
    recipient = x25519.X25519PrivateKey.from_private_bytes(RECIPIENT)
    from smimehelper.core.cms import keys as keys_module
    from smimehelper.core.errors import MessageFormatError

    identity = Identity(key=recipient, cert=_certificate(pki, recipient.public_key()), chain=())
    with pytest.raises(MessageFormatError):
        keys_module._shared_secret("1.3.101.110", bytes(32), identity)
