""".p12/.pfx files as OpenSSL 3 writes them: X25519/X448 keys are read, Ed25519 says why it cannot
be used, and a file that cannot be read for another reason than the passphrase says the real
reason (issue 9: all of these read "The passphrase is not correct" before).

Every file here is written by the ``openssl`` CLI (the independent producer); the X25519 one then
decrypts an RFC 8418 message assembled as in tests/core/cms/test_x25519.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x448, x25519

from smimehelper.core.errors import CertificateError, PassphraseError
from smimehelper.core.identity import load_pkcs12
from smimehelper.core.pkcs12_read import pkcs12_kdf
from smimehelper.core.reader import open_message
from tests.core.cms.test_x25519 import _certificate, _message
from tests.pki.make_pki import Pki

PASS = "p12-pass"


def _openssl(*args: str | Path, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(["openssl", *map(str, args)], input=stdin, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def _write_p12(tmp_path: Path, name: str, key_pem: bytes, cert_pem: bytes, *extra: str) -> Path:
    key, cert, out = tmp_path / f"{name}.key", tmp_path / f"{name}.crt", tmp_path / f"{name}.p12"
    key.write_bytes(key_pem)
    cert.write_bytes(cert_pem)
    _openssl("pkcs12", "-export", "-inkey", key, "-in", cert, "-passout", f"pass:{PASS}", "-out", out, *extra)
    return out


def _pem(key: object) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())  # type: ignore[attr-defined]


@pytest.mark.parametrize("curve", ["x25519", "x448"])
def test_x25519_and_x448_keys_are_read_and_decrypt(pki: Pki, tmp_path: Path, curve: str) -> None:
    recipient = x25519.X25519PrivateKey.generate() if curve == "x25519" else x448.X448PrivateKey.generate()
    ephemeral = x25519.X25519PrivateKey.generate() if curve == "x25519" else x448.X448PrivateKey.generate()
    message, expected = _message(pki, tmp_path, recipient, ephemeral, "1.3.101.110" if curve == "x25519" else "1.3.101.111",
                                 "1.3.132.1.11.1", None)
    p12 = _write_p12(tmp_path, curve, _pem(recipient), expected.cert.public_bytes(serialization.Encoding.PEM))
    identity = load_pkcs12(p12, PASS.encode())
    assert identity.cert == expected.cert
    assert isinstance(identity.key, type(recipient))
    opened = open_message(message, identities=[identity], now=pki.now)
    assert opened.decrypted, opened.decryption_problem
    assert "deterministic X25519 test" in (opened.body_text or "")
    with pytest.raises(PassphraseError, match="not correct"):
        load_pkcs12(p12, b"wrong")
    with pytest.raises(PassphraseError, match="protected by a passphrase"):
        load_pkcs12(p12, None)


def test_x25519_in_a_3des_file_is_read_too(pki: Pki, tmp_path: Path) -> None:
    key = x25519.X25519PrivateKey.generate()
    cert = _certificate(pki, key.public_key())
    p12 = _write_p12(tmp_path, "x3des", _pem(key), cert.public_bytes(serialization.Encoding.PEM),
                     "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1")
    assert load_pkcs12(p12, PASS.encode()).cert == cert


def test_ed25519_says_why_it_cannot_sign(tmp_path: Path) -> None:
    key_path = tmp_path / "ed.key"
    _openssl("genpkey", "-algorithm", "ed25519", "-out", key_path)
    cert = _openssl("req", "-new", "-x509", "-key", key_path, "-subj", "/CN=Ed/emailAddress=ed@example.org", "-days", "30")
    p12 = _write_p12(tmp_path, "ed", key_path.read_bytes(), cert)
    with pytest.raises(CertificateError, match="Ed25519 key. Mail programs") as caught:
        load_pkcs12(p12, PASS.encode())
    assert "passphrase" not in str(caught.value).lower()


def test_real_reasons_instead_of_the_passphrase(pki: Pki, p12_variants: dict[str, Path], tmp_path: Path) -> None:
    cases = {
        "a certificate in PEM": (p12_variants["pem-cert"], "text (PEM) form"),
        "a DER certificate": (_der_cert(pki, tmp_path), "only a certificate, without its private key"),
        "an empty file": (_file(tmp_path / "empty.p12", b""), "empty"),
        "random bytes": (p12_variants["garbage"], "damaged or incomplete"),
        "half a file": (p12_variants["truncated"], "damaged or incomplete"),
        "no key": (p12_variants["nokey"], "no private key"),
    }
    for what, (path, expected) in cases.items():
        with pytest.raises(CertificateError) as caught:
            load_pkcs12(path, pki.p12_password.encode())
        assert expected in str(caught.value), (what, str(caught.value))
        assert not isinstance(caught.value, PassphraseError), what


def test_a_wrong_passphrase_is_still_a_wrong_passphrase(pki: Pki, p12_variants: dict[str, Path]) -> None:
    for variant in ("aes", "3des", "legacy-rc2"):
        with pytest.raises(PassphraseError, match="not correct"):
            load_pkcs12(p12_variants[variant], b"not-the-passphrase")


def test_pkcs12_kdf_matches_openssl(tmp_path: Path) -> None:
    """The MAC key derivation (RFC 7292 B.2) against OpenSSL: our key verifies OpenSSL's MAC."""
    import hashlib
    import hmac

    from asn1crypto import pkcs12 as asn1_pkcs12

    key = x25519.X25519PrivateKey.generate()
    for mac in ("sha1", "sha256", "sha512"):
        p12 = tmp_path / f"mac-{mac}.p12"
        key_file = tmp_path / "k.pem"
        key_file.write_bytes(_pem(key))
        _openssl("pkcs12", "-export", "-nocerts", "-inkey", key_file, "-passout", f"pass:{PASS}", "-macalg", mac, "-out", p12)
        pfx = asn1_pkcs12.Pfx.load(p12.read_bytes())
        data = pfx["mac_data"]
        derived = pkcs12_kdf(mac, PASS.encode("utf-16-be") + b"\0\0", data["mac_salt"].native, 3,
                             data["iterations"].native, hashlib.new(mac).digest_size)
        content = pfx["auth_safe"]["content"].native
        assert hmac.new(derived, content, mac).digest() == data["mac"]["digest"].native, mac


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _der_cert(pki: Pki, tmp_path: Path) -> Path:
    return _file(tmp_path / "cert.p12", pki.entity("bob").cert.public_bytes(serialization.Encoding.DER))
