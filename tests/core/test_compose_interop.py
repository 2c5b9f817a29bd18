"""Our messages judged by OpenSSL (every recipient kind) and NSS cmsutil (Thunderbird's engine).

A round trip through our own reader would prove little: these tests only pass if independent
implementations decrypt, verify and parse what we write.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.core.helpers import attachments_of, compose, parse, signed_content_parts, text_of
from tests.judges import (
    extract_smime_payload,
    openssl_cms_print,
    openssl_decrypt,
    openssl_verify,
    split_multipart_signed,
)
from tests.pki.make_pki import Pki


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    """A fake DICOM, a JPEG, a PDF and random bytes: content types must come from the bytes."""
    made = {
        "IMG0001": b"\0" * 128 + b"DICM" + os.urandom(5000),
        "panorama.jpg": b"\xff\xd8\xff\xe0" + os.urandom(3000),
        "befund": b"%PDF-1.7\n" + os.urandom(2000),
        "data.bin": os.urandom(70_001),
    }
    paths = []
    for name, data in made.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def decrypt_and_verify(pki: Pki, eml: Path, who: str) -> bytes:
    entity = pki.entity(who)
    inner = openssl_decrypt(eml, entity.cert_pem, entity.key_path)
    openssl_verify(inner, pki.root.cert_pem, attime=pki.now)
    return inner


def test_default_profile_opens_for_recipient_and_sender(pki: Pki, tmp_path: Path, files: list[Path]) -> None:
    out = tmp_path / "msg.eml"
    result = compose(pki, out, attachments=tuple(files))
    assert result.encrypted and result.signed and result.cipher == "aes256-cbc"
    assert result.recipients == ("alice@example.org", "bob@example.org")
    assert out.stat().st_mode & 0o777 == 0o600
    for who in ("bob", "alice"):
        inner = decrypt_and_verify(pki, out, who)
        content = signed_content_parts(inner)
        got = attachments_of(content)
        assert {name: data for name, (_, data) in got.items()} == {p.name: p.read_bytes() for p in files}
        assert {name: ctype for name, (ctype, _) in got.items()} == {
            "IMG0001": "application/dicom",
            "panorama.jpg": "image/jpeg",
            "befund": "application/pdf",
            "data.bin": "application/octet-stream",
        }
        assert text_of(content) == "Dear colleague,\nplease find the x-ray attached.\n"


def test_outer_headers(pki: Pki, tmp_path: Path) -> None:
    out = tmp_path / "msg.eml"
    compose(pki, out, to=("bob",), cc=("carol",), subject="Überweisung")
    message = parse(out.read_bytes())
    assert message["From"] == "Sender <alice@example.org>"
    assert message["To"] == "bob@example.org"
    assert message["Cc"] == "carol@example.org"
    assert message["Subject"] == "Überweisung"
    assert message["Date"] == "Mon, 01 Jun 2026 12:00:00 +0000"
    assert message["Message-ID"].endswith("@example.org>")
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "application/pkcs7-mime"
    assert message.get_param("smime-type") == "enveloped-data"
    assert message.get_param("name") == "smime.p7m"
    raw = out.read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b""), "every line must end in CRLF"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


@pytest.mark.parametrize(
    ("to", "options", "algorithm_text"),
    [
        (("bob",), {"oaep": True}, "rsaesOaep"),
        (("bob",), {"gcm": True}, "aes-256-gcm"),
        (("carol",), {}, "dhSinglePass-stdDH-sha256kdf-scheme"),
        (("dave",), {}, "dhSinglePass-stdDH-sha256kdf-scheme"),
        (("erin",), {}, "dhSinglePass-stdDH-sha256kdf-scheme"),
        (("bob", "carol", "dave", "erin"), {}, "dhSinglePass-stdDH-sha256kdf-scheme"),
        (("bob", "carol"), {"oaep": True, "gcm": True}, "aes-256-gcm"),
    ],
    ids=["rsa-oaep", "aes-gcm", "ec-p256", "ec-p384", "ec-p521", "mixed-rsa-ec", "mixed-oaep-gcm"],
)
def test_every_recipient_kind_decrypts_with_openssl(
    pki: Pki, tmp_path: Path, files: list[Path], to: tuple[str, ...], options: dict, algorithm_text: str
) -> None:
    out = tmp_path / "msg.eml"
    compose(pki, out, to=to, attachments=tuple(files[:2]), **options)
    structure = openssl_cms_print(extract_smime_payload(out.read_bytes()))
    assert algorithm_text in structure
    for who in (*to, "alice"):
        inner = decrypt_and_verify(pki, out, who)
        got = attachments_of(signed_content_parts(inner))
        assert got["IMG0001"][1] == files[0].read_bytes()


def test_gcm_is_auth_enveloped_data_with_16_byte_tag(pki: Pki, tmp_path: Path) -> None:
    out = tmp_path / "msg.eml"
    compose(pki, out, gcm=True)
    message = parse(out.read_bytes())
    assert message.get_param("smime-type") == "authEnveloped-data"
    der = extract_smime_payload(out.read_bytes())
    assert "id-smime-ct-authEnvelopedData" in openssl_cms_print(der)
    # id-aes256-GCM, then GCMParameters { aes-nonce OCTET STRING (12), aes-ICVlen 16 } (RFC 5084)
    at = der.index(bytes.fromhex("060960864801650304012e"))
    params = der[at + 11 : at + 11 + 19]
    assert params[:4] == bytes.fromhex("3011040c") and params[-3:] == bytes.fromhex("020110")



def test_ecdh_key_wrap_parameters_are_null_for_outlook(pki: Pki, tmp_path: Path) -> None:
    out = tmp_path / "msg.eml"
    compose(pki, out, to=("carol",))
    der = extract_smime_payload(out.read_bytes())
    # id-aes256-wrap followed by NULL, inside the key agreement algorithm's parameters.
    assert bytes.fromhex("300d060960864801650304012d0500") in der


def test_tampered_ciphertext_is_refused_by_gcm(pki: Pki, tmp_path: Path) -> None:
    out = tmp_path / "msg.eml"
    compose(pki, out, gcm=True, attachments=())
    der = bytearray(extract_smime_payload(out.read_bytes()))
    der[-60] ^= 0x01  # inside the encrypted content, before the tag and end-of-contents
    tampered = tmp_path / "tampered.der"
    tampered.write_bytes(bytes(der))
    import subprocess

    proc = subprocess.run(
        ["openssl", "cms", "-decrypt", "-inform", "DER", "-in", str(tampered),
         "-recip", str(pki.entity("bob").cert_pem), "-inkey", str(pki.entity("bob").key_path)],
        capture_output=True,
    )
    assert proc.returncode != 0


def test_signature_attributes_and_certificates(pki: Pki, tmp_path: Path) -> None:
    out = tmp_path / "msg.eml"
    compose(pki, out, encrypt=False)
    _, signature = split_multipart_signed(out.read_bytes())
    structure = openssl_cms_print(signature)
    for expected in (
        "contentType",
        "signingTime",
        "messageDigest",
        "S/MIME Capabilities",
        "id-smime-aa-encrypKeyPref",
        "1.3.6.1.4.1.311.16.4",
        "aes-256-cbc",
    ):
        assert expected in structure, expected
    assert "Jun  1 12:00:00 2026 GMT" in structure  # signingTime equals the Date header
    assert "smimehelper Test Intermediate CA" in structure
    # The root is not included: it appears once, as the intermediate's issuer, never as a subject.
    assert structure.count("CN=smimehelper Test Root CA") == 1


def test_signed_only_message_verifies_and_keeps_headers(pki: Pki, tmp_path: Path) -> None:
    out = tmp_path / "msg.eml"
    result = compose(pki, out, encrypt=False)
    assert not result.encrypted and result.cipher is None
    openssl_verify(out, pki.root.cert_pem, attime=pki.now)
    message = parse(out.read_bytes())
    assert message.get_content_type() == "multipart/signed"
    assert message.get_param("micalg") == "sha-256"
    assert message.get_param("protocol") == "application/pkcs7-signature"


def test_ec_signer_uses_ecdsa(pki: Pki, tmp_path: Path, nss_db_factory) -> None:
    out = tmp_path / "msg.eml"
    compose(pki, out, sender="frank", to=("carol",))
    inner = decrypt_and_verify(pki, out, "carol")
    content, signature = split_multipart_signed(inner)
    assert "ecdsa-with-SHA256" in openssl_cms_print(signature)
    assert "GoodSignature" in nss_db_factory().verify_detached(content, signature)


def test_encrypted_only_message(pki: Pki, tmp_path: Path) -> None:
    out = tmp_path / "msg.eml"
    compose(pki, out, sign=False, body="unsigned\n")
    inner = openssl_decrypt(out, pki.entity("bob").cert_pem, pki.entity("bob").key_path)
    assert text_of(parse(inner)) == "unsigned\n"


class TestNss:
    """NSS 3.87 cmsutil, the engine of Thunderbird 115: the default profile must satisfy it."""

    def test_default_profile_decrypts_and_verifies(self, pki: Pki, tmp_path: Path, files: list[Path], nss_db_factory) -> None:
        out = tmp_path / "msg.eml"
        compose(pki, out, attachments=tuple(files))
        der = extract_smime_payload(out.read_bytes(), smime_type="enveloped-data")
        for who in ("bob", "alice"):
            inner = nss_db_factory(who).decrypt(der)
            content, signature = split_multipart_signed(inner)
            report = nss_db_factory().verify_detached(content, signature)
            assert "GoodSignature" in report
            got = attachments_of(parse(content))
            assert got["IMG0001"][1] == files[0].read_bytes()

    def test_nss_rejects_modified_content(self, pki: Pki, tmp_path: Path, nss_db_factory) -> None:
        from tests.judges import JudgeError

        out = tmp_path / "msg.eml"
        compose(pki, out, encrypt=False, body="dose 5 mg\n")
        content, signature = split_multipart_signed(out.read_bytes())
        assert "GoodSignature" in nss_db_factory().verify_detached(content, signature)
        with pytest.raises(JudgeError):
            nss_db_factory().verify_detached(content.replace(b"5 mg", b"50 mg"), signature)
