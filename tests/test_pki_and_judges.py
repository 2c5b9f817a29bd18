"""Self-tests for the generated PKI and the OpenSSL/NSS judges.

The judges must be trusted before they judge smimehelper, so here they judge
messages made by the ``openssl`` CLI itself (and a few hand-built CMS
structures where exact control of signingTime is needed).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from asn1crypto import cms as acms
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.judges import (
    JudgeError,
    NssDbFactory,
    extract_smime_payload,
    openssl_cms_print,
    openssl_decrypt,
    openssl_verify,
    require_tools,
    split_multipart_signed,
)
from tests.pki.make_pki import LEAF_NAMES, P12_PASSWORD, REFERENCE_NOW, Entity, Pki, build_pki, main

PART = (
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 7bit\r\n"
    b"\r\n"
    b"Dear colleague,\r\n"
    b"the X-ray of patient 4711 is attached.\r\n"
)


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _detached_signature(
    content: bytes, signer: Entity, chain: list[x509.Certificate], signing_time: dt.datetime
) -> bytes:
    """A detached CMS SignedData with a chosen signingTime (openssl always uses 'now')."""
    der = serialization.Encoding.DER
    cert = ax509.Certificate.load(signer.cert.public_bytes(der))
    attrs = acms.CMSAttributes(
        [
            acms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            acms.CMSAttribute(
                {"type": "signing_time", "values": [acms.Time({"utc_time": signing_time})]}
            ),
            acms.CMSAttribute(
                {"type": "message_digest", "values": [hashlib.sha256(content).digest()]}
            ),
        ]
    )
    if isinstance(signer.key, rsa.RSAPrivateKey):
        sig = signer.key.sign(attrs.dump(), padding.PKCS1v15(), hashes.SHA256())
        sig_alg = "rsassa_pkcs1v15"
    else:
        assert isinstance(signer.key, ec.EllipticCurvePrivateKey)
        sig = signer.key.sign(attrs.dump(), ec.ECDSA(hashes.SHA256()))
        sig_alg = "sha256_ecdsa"
    signer_info = acms.SignerInfo(
        {
            "version": "v1",
            "sid": acms.SignerIdentifier(
                {
                    "issuer_and_serial_number": acms.IssuerAndSerialNumber(
                        {"issuer": cert.issuer, "serial_number": cert.serial_number}
                    )
                }
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": attrs,
            "signature_algorithm": {"algorithm": sig_alg},
            "signature": sig,
        }
    )
    signed_data = acms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "data"},
            "certificates": [cert] + [ax509.Certificate.load(c.public_bytes(der)) for c in chain],
            "signer_infos": [signer_info],
        }
    )
    return acms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def _multipart_signed(content: bytes, signature: bytes, boundary: str = "b0undary") -> bytes:
    """Assemble a CRLF multipart/signed message around given bytes."""
    sig_b64 = base64.encodebytes(signature).replace(b"\n", b"\r\n")
    return (
        b'MIME-Version: 1.0\r\nContent-Type: multipart/signed; '
        b'protocol="application/pkcs7-signature"; micalg=sha-256; '
        b'boundary="' + boundary.encode() + b'"\r\n\r\n'
        b"--" + boundary.encode() + b"\r\n" + content + b"\r\n"
        b"--" + boundary.encode() + b"\r\n"
        b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + sig_b64 + b"\r\n"
        b"--" + boundary.encode() + b"--\r\n"
    )


@pytest.fixture(scope="session")
def samples(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Messages made by the openssl CLI, like a conforming sender would.

    ``-binary`` signs PART's bytes as they are (already CRLF) and ``-crlfeol``
    writes the MIME structure with CRLF, i.e. the canonical wire form.
    """
    d = tmp_path_factory.mktemp("openssl-samples")
    alice, bob = pki.entity("alice"), pki.entity("bob")
    (d / "part.txt").write_bytes(PART)
    _openssl(
        "cms", "-sign", "-binary", "-crlfeol", "-md", "sha256", "-in", d / "part.txt",
        "-signer", alice.cert_pem, "-inkey", alice.key_path, "-certfile", pki.inter.cert_pem,
        "-out", d / "signed.eml",
    )
    _openssl(
        "cms", "-sign", "-nodetach", "-binary", "-md", "sha256", "-in", d / "part.txt",
        "-signer", alice.cert_pem, "-inkey", alice.key_path, "-certfile", pki.inter.cert_pem,
        "-outform", "DER", "-out", d / "opaque.p7m",
    )
    _openssl(
        "cms", "-sign", "-nodetach", "-binary", "-crlfeol", "-md", "sha256", "-in", d / "part.txt",
        "-signer", alice.cert_pem, "-inkey", alice.key_path, "-certfile", pki.inter.cert_pem,
        "-out", d / "opaque-smime.eml",
    )
    revoked = pki.entity("revoked")
    _openssl(
        "cms", "-sign", "-binary", "-crlfeol", "-md", "sha256", "-in", d / "part.txt",
        "-signer", revoked.cert_pem, "-inkey", revoked.key_path, "-certfile", pki.inter.cert_pem,
        "-out", d / "revoked-signed.eml",
    )
    _openssl(
        "cms", "-encrypt", "-aes256", "-binary", "-crlfeol", "-in", d / "signed.eml",
        "-out", d / "enc.eml", bob.cert_pem, alice.cert_pem,
    )
    return {p.stem: p for p in d.iterdir()}


# --------------------------------------------------------------------------- PKI


def test_build_pki_is_fast_and_writes_everything(tmp_path: Path) -> None:
    start = time.perf_counter()
    pki = build_pki(tmp_path)
    assert time.perf_counter() - start < 3.0
    assert pki.now == REFERENCE_NOW
    for name in ("root", "inter", *LEAF_NAMES):
        ent = pki.entity(name)
        for path in (ent.key_path, ent.cert_pem, ent.cert_der, ent.p12):
            assert path.is_file() and path.stat().st_size > 0, path
    for path in (pki.chain_pem, pki.crl_der, pki.crl_pem):
        assert path.is_file()
    assert pki.passphrase_file.read_bytes() == b"test-pass\n"
    assert pki.chain_pem.read_bytes() == pki.inter.cert_pem.read_bytes() + pki.root.cert_pem.read_bytes()


def test_main_writes_pki(tmp_path: Path) -> None:
    assert main([str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "alice.p12").is_file()


def test_leaf_profiles(pki: Pki) -> None:
    kinds = {
        "alice": (rsa.RSAPrivateKey, 2048), "bob": (rsa.RSAPrivateKey, 2048),
        "carol": (ec.EllipticCurvePrivateKey, 256), "dave": (ec.EllipticCurvePrivateKey, 384),
        "erin": (ec.EllipticCurvePrivateKey, 521), "frank": (ec.EllipticCurvePrivateKey, 256),
        "weak": (rsa.RSAPrivateKey, 1024),
    }
    for name in LEAF_NAMES:
        ent = pki.entity(name)
        cert = ent.cert
        key_type, bits = kinds.get(name, (rsa.RSAPrivateKey, 2048))
        assert isinstance(ent.key, key_type) and ent.key.key_size == bits, name
        assert cert.issuer == pki.inter.cert.subject
        assert cert.public_key() == ent.key.public_key()
        if name == "noemail":
            assert ent.email is None
            with pytest.raises(x509.ExtensionNotFound):
                cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        else:
            assert ent.email == f"{name}@example.org"
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            assert san.get_values_for_type(x509.RFC822Name) == [ent.email]
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        expected_eku = (
            x509.oid.ExtendedKeyUsageOID.SERVER_AUTH if name == "wrongeku"
            else x509.oid.ExtendedKeyUsageOID.EMAIL_PROTECTION
        )
        assert list(eku) == [expected_eku]
        for ext in (x509.SubjectKeyIdentifier, x509.AuthorityKeyIdentifier, x509.CRLDistributionPoints):
            cert.extensions.get_extension_for_class(ext)

    def ku(name: str) -> x509.KeyUsage:
        return pki.entity(name).cert.extensions.get_extension_for_class(x509.KeyUsage).value

    assert ku("alice").content_commitment and ku("alice").key_encipherment
    assert ku("carol").key_agreement and not ku("carol").key_encipherment
    assert ku("frank").content_commitment and ku("frank").key_agreement
    assert ku("signonly").digital_signature and not ku("signonly").key_encipherment

    now = pki.now
    assert pki.entity("alice").cert.not_valid_before_utc == now - dt.timedelta(days=30)
    assert pki.entity("expired").cert.not_valid_after_utc == now - dt.timedelta(days=365)
    assert pki.entity("notyet").cert.not_valid_before_utc == now + dt.timedelta(days=30)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("alice", None), ("bob", None), ("carol", None), ("dave", None), ("erin", None),
        ("frank", None), ("signonly", None), ("weak", None), ("noemail", None),
        ("expired", "certificate has expired"), ("notyet", "certificate is not yet valid"),
        ("wrongeku", "unsuitable certificate purpose"),
    ],
)
def test_chain_validity_with_openssl(pki: Pki, name: str, error: str | None) -> None:
    proc = subprocess.run(
        ["openssl", "verify", "-attime", str(int(pki.now.timestamp())), "-purpose", "smimesign",
         "-CAfile", str(pki.root.cert_pem), "-untrusted", str(pki.inter.cert_pem),
         str(pki.entity(name).cert_pem)],
        capture_output=True, text=True,
    )
    if error is None:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    else:
        assert proc.returncode != 0 and error in proc.stdout + proc.stderr


def test_crl_lists_only_revoked(pki: Pki) -> None:
    crl = x509.load_der_x509_crl(pki.crl_der.read_bytes())
    assert crl.is_signature_valid(pki.inter.cert.public_key())
    assert [r.serial_number for r in crl] == [pki.entity("revoked").cert.serial_number]
    assert crl.last_update_utc == pki.now - dt.timedelta(days=1)
    assert crl.next_update_utc == pki.now + dt.timedelta(days=30)
    assert x509.load_pem_x509_crl(pki.crl_pem.read_bytes()) == crl


def test_p12_holds_key_cert_chain_with_modern_encryption(pki: Pki) -> None:
    ent = pki.entity("carol")
    p12 = pkcs12.load_pkcs12(ent.p12.read_bytes(), P12_PASSWORD.encode())
    assert p12.cert is not None and p12.cert.certificate == ent.cert
    assert p12.key is not None and p12.key.public_key() == ent.key.public_key()
    assert [c.certificate for c in p12.additional_certs] == [pki.inter.cert, pki.root.cert]
    info = subprocess.run(
        ["openssl", "pkcs12", "-info", "-noout", "-in", str(ent.p12), "-passin", f"pass:{P12_PASSWORD}"],
        capture_output=True, text=True, check=True,
    ).stderr
    assert "AES-256-CBC" in info and "MAC: sha256" in info
    assert "RC2" not in info and "3DES" not in info


# --------------------------------------------------------------------------- MIME helpers


def test_split_multipart_signed_returns_exact_signed_bytes(samples: dict[str, Path]) -> None:
    content, signature = split_multipart_signed(samples["signed"].read_bytes())
    assert content == PART
    printed = openssl_cms_print(signature)
    assert "signedData" in printed and "sha256" in printed


def test_split_multipart_signed_boundary_edge_cases() -> None:
    sig = b"\x30\x03\x02\x01\x00"
    msg = _multipart_signed(b"A: b\r\n\r\nbody\r\n--b0undaryX not a delimiter\r\n", sig)
    assert split_multipart_signed(msg) == (
        b"A: b\r\n\r\nbody\r\n--b0undaryX not a delimiter\r\n", sig
    )
    # A preamble and transport padding after the boundary are allowed.
    padded = msg.replace(b"\r\n\r\n--b0undary\r\n", b"\r\n\r\npreamble\r\n--b0undary \t\r\n", 1)
    assert split_multipart_signed(padded)[0] == b"A: b\r\n\r\nbody\r\n--b0undaryX not a delimiter\r\n"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m.replace(b"\r\n", b"\n"), "CRLF"),
        (lambda m: m.replace(b"multipart/signed", b"multipart/mixed"), "expected multipart/signed"),
        (lambda m: m.replace(b"--b0undary--", b"--b0undary\r\n\r\nx\r\n--b0undary--"), "more than two"),
        (
            lambda m: m.replace(b"application/pkcs7-signature; name", b"text/plain; name"),
            "not a pkcs7-signature",
        ),
    ],
)
def test_split_multipart_signed_rejects_malformed(
    mutate: Callable[[bytes], bytes], message: str
) -> None:
    msg = _multipart_signed(b"A: b\r\n\r\nbody", b"\x30\x00")
    with pytest.raises(JudgeError, match=message):
        split_multipart_signed(mutate(msg))


def test_extract_smime_payload(samples: dict[str, Path]) -> None:
    der = extract_smime_payload(samples["enc"].read_bytes(), smime_type="enveloped-data")
    assert "envelopedData" in openssl_cms_print(der)
    with pytest.raises(JudgeError, match="smime-type"):
        extract_smime_payload(samples["enc"].read_bytes(), smime_type="signed-data")
    with pytest.raises(JudgeError, match="pkcs7-mime"):
        extract_smime_payload(samples["signed"].read_bytes())


# --------------------------------------------------------------------------- OpenSSL judge


def test_openssl_verify_at_reference_time(pki: Pki, samples: dict[str, Path]) -> None:
    out = openssl_verify(samples["signed"], pki.root.cert_pem, attime=pki.now)
    assert out == PART
    assert openssl_verify(samples["signed"].read_bytes(), pki.root.cert_pem, attime=pki.now) == PART


def test_openssl_verify_honours_attime(pki: Pki, samples: dict[str, Path]) -> None:
    with pytest.raises(JudgeError, match="certificate has expired"):
        openssl_verify(samples["signed"], pki.root.cert_pem, attime=pki.now + dt.timedelta(days=800))


def test_openssl_verify_exact_bytes_catches_lf_transport(pki: Pki, samples: dict[str, Path]) -> None:
    lf = samples["signed"].read_bytes().replace(b"\r\n", b"\n")
    with pytest.raises(JudgeError, match="verification failure"):
        openssl_verify(lf, pki.root.cert_pem, attime=pki.now)
    # OpenSSL's default (canonicalising) mode would have let it pass.
    assert openssl_verify(lf, pki.root.cert_pem, attime=pki.now, exact_bytes=False) == PART


def test_openssl_verify_detached_ok_false(pki: Pki, samples: dict[str, Path]) -> None:
    opaque = samples["opaque-smime"]
    assert openssl_verify(opaque, pki.root.cert_pem, attime=pki.now, detached_ok=False) == PART
    with pytest.raises(JudgeError, match="opaque"):
        openssl_verify(samples["signed"], pki.root.cert_pem, attime=pki.now, detached_ok=False)


def test_openssl_verify_with_crl(pki: Pki, samples: dict[str, Path]) -> None:
    good = openssl_verify(samples["signed"], pki.root.cert_pem, attime=pki.now, crl=pki.crl_pem)
    assert good == PART
    assert openssl_verify(samples["revoked-signed"], pki.root.cert_pem, attime=pki.now) == PART
    with pytest.raises(JudgeError, match="certificate revoked"):
        openssl_verify(samples["revoked-signed"], pki.root.cert_pem, attime=pki.now, crl=pki.crl_pem)


@pytest.mark.parametrize("recipient", ["bob", "alice"])
def test_openssl_decrypt(pki: Pki, samples: dict[str, Path], recipient: str) -> None:
    ent = pki.entity(recipient)
    inner = openssl_decrypt(samples["enc"], ent.cert_pem, ent.key_path)
    assert inner == samples["signed"].read_bytes()
    assert openssl_decrypt(samples["enc"].read_bytes(), ent.cert_pem, ent.key_path) == inner
    assert openssl_verify(inner, pki.root.cert_pem, attime=pki.now) == PART


def test_openssl_decrypt_rejects_non_recipient(pki: Pki, samples: dict[str, Path]) -> None:
    carol = pki.entity("carol")
    with pytest.raises(JudgeError, match="openssl failed"):
        openssl_decrypt(samples["enc"], carol.cert_pem, carol.key_path)


# --------------------------------------------------------------------------- NSS judge


def test_nss_decrypts_rsa_recipient(samples: dict[str, Path], nss_db_factory: NssDbFactory) -> None:
    der = extract_smime_payload(samples["enc"].read_bytes())
    assert nss_db_factory("bob").decrypt(der) == samples["signed"].read_bytes()


def test_nss_decrypt_rejects_non_recipient(samples: dict[str, Path], nss_db_factory: NssDbFactory) -> None:
    der = extract_smime_payload(samples["enc"].read_bytes())
    with pytest.raises(JudgeError, match="SEC_ERROR_NOT_A_RECIPIENT"):
        nss_db_factory("carol").decrypt(der)


def test_nss_verify_detached_good(samples: dict[str, Path], nss_db_factory: NssDbFactory) -> None:
    """openssl puts signingTime = the real now in; NSS checks the cert then.

    The test certs are valid 2026-05-02 .. 2027-06-01, so this passes only
    inside that window; the hand-built tests below are time-independent.
    """
    content, signature = split_multipart_signed(samples["signed"].read_bytes())
    report = nss_db_factory().verify_detached(content, signature)
    assert 'signer0.id="Dr Alice Sender"' in report and "signer0.status=GoodSignature" in report


def test_nss_verify_detached_rejects_modified_content(
    samples: dict[str, Path], nss_db_factory: NssDbFactory
) -> None:
    content, signature = split_multipart_signed(samples["signed"].read_bytes())
    with pytest.raises(JudgeError, match="DigestMismatch") as exc_info:
        nss_db_factory().verify_detached(content.replace(b"4711", b"4712"), signature)
    assert "SEC_ERROR_PKCS7_BAD_SIGNATURE" in str(exc_info.value)


def test_nss_verify_opaque(samples: dict[str, Path], nss_db_factory: NssDbFactory) -> None:
    assert nss_db_factory().verify_opaque(samples["opaque"].read_bytes()) == PART


@pytest.mark.parametrize("signer", ["alice", "frank"])
def test_nss_checks_certificate_at_signing_time(
    pki: Pki, nss_db_factory: NssDbFactory, signer: str
) -> None:
    """NSS validates at the signingTime attribute, whatever today's date is."""
    db = nss_db_factory()
    chain = [pki.inter.cert]
    at_ref = _detached_signature(PART, pki.entity(signer), chain, pki.now)
    assert "GoodSignature" in db.verify_detached(PART, at_ref)
    too_late = _detached_signature(PART, pki.entity(signer), chain, pki.now + dt.timedelta(days=800))
    with pytest.raises(JudgeError, match="SigningCertNotTrusted") as exc_info:
        db.verify_detached(PART, too_late)
    assert "SEC_ERROR_EXPIRED_CERTIFICATE" in str(exc_info.value)


def test_nss_signer_checks(pki: Pki, nss_db_factory: NssDbFactory) -> None:
    """Revocation (with imported CRL), EKU and a missing chain are all caught."""
    chain = [pki.inter.cert]
    revoked = _detached_signature(PART, pki.entity("revoked"), chain, pki.now)
    assert "GoodSignature" in nss_db_factory().verify_detached(PART, revoked)
    with pytest.raises(JudgeError, match="SEC_ERROR_REVOKED_CERTIFICATE"):
        nss_db_factory(with_crl=True).verify_detached(PART, revoked)
    wrong_eku = _detached_signature(PART, pki.entity("wrongeku"), chain, pki.now)
    with pytest.raises(JudgeError, match="SigningCertNotTrusted"):
        nss_db_factory().verify_detached(PART, wrong_eku)
    no_certs = acms.ContentInfo.load(_detached_signature(PART, pki.entity("alice"), [], pki.now))
    no_certs["content"]["certificates"] = acms.CertificateSet([])
    with pytest.raises(JudgeError, match="SigningCertNotFound"):
        nss_db_factory().verify_detached(PART, no_certs.dump(force=True))


def test_require_tools_names_apt_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    require_tools()
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(JudgeError, match="apt-get install libnss3-tools openssl"):
        require_tools()
