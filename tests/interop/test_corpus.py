"""The interop corpus is trustworthy: each vector opens with the tool that made it.

Before the reader is judged against these messages, the producing tool (and,
where it can, the other one) must decrypt and verify every layer, the CMS
must contain what the Vector claims (cipher, key management, digest, signers,
signingTime) and the innermost MIME must carry the expected text and bytes.
Also pins down what OpenSSL 3.0 / NSS 3.87 could NOT produce (NOT_PRODUCIBLE),
so a tool upgrade that lifts a limit is noticed.
"""

from __future__ import annotations

import datetime as _dt
import email
import email.message
import email.policy
import hashlib
import re
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from tests.interop import corpus as corpus_mod
from tests.interop.corpus import (
    AUTH_ENVELOPED_DATA,
    ENVELOPED_DATA,
    MULTIPART_SIGNED,
    NOT_PRODUCIBLE,
    NSS_VECTOR_DIR,
    SIGNED_DATA,
    VECTOR_NAMES,
    NssVector,
    Vector,
    mint_leaf,
)
from tests.judges import (
    JudgeError,
    NssDb,
    NssDbFactory,
    extract_smime_payload,
    openssl_cms_print,
    openssl_decrypt,
    openssl_verify,
    split_multipart_signed,
)
from tests.pki.make_pki import Pki

_OPENSSL_CIPHERS = {
    "aes-128-cbc": "aes128-cbc",
    "aes-192-cbc": "aes192-cbc",
    "aes-256-cbc": "aes256-cbc",
    "des-ede3-cbc": "3des-cbc",
    "aes-128-gcm": "aes128-gcm",
    "aes-256-gcm": "aes256-gcm",
}

# What `openssl cms -cmsout -print` of the outermost encryption layer must mention
# (case-insensitive): proves each description names the key management really used.
_ENC_PRINT: dict[str, tuple[str, ...]] = {
    "openssl-enc-rsa-aes128-cbc": ("rsaEncryption",),
    "openssl-enc-rsa-3des-cbc": ("rsaEncryption",),
    "openssl-enc-rsa-aes128-gcm": ("rsaEncryption", "id-smime-ct-authEnvelopedData"),
    "openssl-enc-rsa-aes256-gcm": ("rsaEncryption", "id-smime-ct-authEnvelopedData"),
    "openssl-enc-rsa-oaep-sha1": ("rsaesOaep",),
    "openssl-enc-rsa-oaep-sha256": ("rsaesOaep", ":sha256", ":mgf1"),
    "openssl-enc-rsa-oaep-sha384": ("rsaesOaep", ":sha384", ":mgf1"),
    "openssl-enc-rsa-oaep-sha512": ("rsaesOaep", ":sha512", ":mgf1"),
    "openssl-enc-rsa-oaep-sha256-mgf1sha1": ("rsaesOaep", ":sha256"),
    "openssl-enc-rsa-oaep-sha256-label": ("rsaesOaep", "pSpecified", "OCTET STRING      :smimehelper"),
    "openssl-enc-ecdh-p256-sha1kdf": ("dhSinglePass-stdDH-sha1kdf-scheme", "id-aes128-wrap"),
    "openssl-enc-ecdh-p256-sha256kdf": ("dhSinglePass-stdDH-sha256kdf-scheme", "id-aes256-wrap"),
    "openssl-enc-ecdh-p384-sha384kdf": ("dhSinglePass-stdDH-sha384kdf-scheme", "id-aes256-wrap"),
    "openssl-enc-ecdh-p384-sha256kdf-aes192": ("dhSinglePass-stdDH-sha256kdf-scheme", "id-aes192-wrap"),
    "openssl-enc-ecdh-p521-sha512kdf": ("dhSinglePass-stdDH-sha512kdf-scheme", "id-aes256-wrap"),
    "openssl-enc-ecdh-p256-aes256wrap-aes128-cbc": ("dhSinglePass-stdDH-sha256kdf-scheme", "id-aes256-wrap"),
    "openssl-enc-ecdh-p256-cofactor-sha256kdf": ("dhSinglePass-cofactorDH-sha256kdf-scheme",),
    "openssl-enc-ecdh-p256-aes256-gcm": ("dhSinglePass-stdDH-sha256kdf-scheme", "id-aes256-wrap"),
    "openssl-enc-rsa-keyid": ("d.subjectKeyIdentifier",),
    "openssl-enc-ecdh-keyid": ("d.rKeyId",),
    "openssl-nested-signed-then-encrypted-ecdh-gcm": ("dhSinglePass-stdDH-sha256kdf-scheme",),
}

_UTCTIME = re.compile(r"signingTime \(1\.2\.840\.113549\.1\.9\.5\)\s*\n\s*set:\s*\n\s*UTCTIME:(.+)")


# --------------------------------------------------------------------------- helpers


def _headers(data: bytes) -> email.message.Message:
    return email.message_from_bytes(data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n", policy=email.policy.compat32)


def _layer_kind(data: bytes) -> str:
    msg = _headers(data)
    ctype = msg.get_content_type()
    if ctype == "multipart/signed":
        return MULTIPART_SIGNED
    assert ctype in ("application/pkcs7-mime", "application/x-pkcs7-mime"), ctype
    return str(msg.get_param("smime-type"))


def _signer_chunks(printed: str) -> list[str]:
    section = printed[printed.index("signerInfos:") :]
    return re.split(r"\n {8}version: ", section)[1:]


def _openssl_verify_maths_only(data: bytes) -> bytes:
    """`openssl cms -verify -noverify`: signature maths and digests only, no chain."""
    proc = subprocess.run(
        ["openssl", "cms", "-verify", "-noverify", "-binary", "-crlfeol"],
        input=data, capture_output=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def _check_signed_layer(pki: Pki, v: Vector, index: int, der: bytes) -> None:
    """The SignerInfos are the expected ones, in order, with the recorded digest and time."""
    expected = [s for s in v.signatures if s.layer == index]
    chunks = _signer_chunks(openssl_cms_print(der))
    assert len(chunks) == len(expected), v.name
    for chunk, sig in zip(chunks, expected):
        serial = int(re.search(r"serialNumber: 0x([0-9A-F]+)", chunk).group(1), 16)
        assert serial == pki.entity(sig.signer).cert.serial_number, (v.name, sig.signer)
        digest = re.search(r"digestAlgorithm: \s*\n\s*algorithm: (\S+)", chunk).group(1)
        assert digest == sig.digest
        found = _UTCTIME.search(chunk)
        if sig.signing_time is None:
            assert found is None
        else:
            when = _dt.datetime.strptime(" ".join(found.group(1).split()), "%b %d %H:%M:%S %Y GMT")
            assert when.replace(tzinfo=_dt.timezone.utc) == sig.signing_time
        if "-pss-" in v.name:
            assert "rsassaPss" in chunk
        if sig.signer == "frank":
            assert "ecdsa-with-SHA256" in chunk


def _verify_openssl(pki: Pki, v: Vector, index: int, data: bytes, *, opaque: bool) -> bytes:
    """Verify one signed layer with OpenSSL at the signing time; return the signed content."""
    sigs = [s for s in v.signatures if s.layer == index]
    when = sigs[0].signing_time or _dt.datetime.now(_dt.timezone.utc)
    if all(s.trusted for s in sigs):
        content = openssl_verify(data, pki.root.cert_pem, attime=when, detached_ok=not opaque)
    else:
        with pytest.raises(JudgeError, match="certificate has expired"):
            openssl_verify(data, pki.root.cert_pem, attime=when, detached_ok=not opaque)
        content = _openssl_verify_maths_only(data)
    if not opaque:
        assert content == split_multipart_signed(data)[0]
    return content


def _check_payload(v: Vector, content: bytes) -> None:
    assert b"\n" not in content.replace(b"\r\n", b""), "bare LF in the innermost entity"
    msg = email.message_from_bytes(content, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/mixed"
    texts = [p for p in msg.walk() if p.get_content_type() == "text/plain"]
    assert len(texts) == 1
    assert texts[0].get_content().replace("\r\n", "\n") == v.body_text
    got = tuple(
        (p.get_filename(), p.get_payload(decode=True))
        for p in msg.walk()
        if p.get_content_disposition() == "attachment"
    )
    assert got == v.attachments


# --------------------------------------------------------------------------- corpus as a whole


def test_corpus_has_every_vector_once(corpus: list[Vector]) -> None:
    assert [v.name for v in corpus] == list(VECTOR_NAMES)
    assert len(set(VECTOR_NAMES)) == len(VECTOR_NAMES)
    assert {v.producer for v in corpus} == {"openssl", "nss-cmsutil"}


def test_vector_dataclasses_are_frozen(corpus: list[Vector]) -> None:
    with pytest.raises(AttributeError):
        corpus[0].name = "x"  # type: ignore[misc]


def test_payloads_differ_and_cover_variants(corpus: list[Vector]) -> None:
    """Each vector carries its own bytes; some have two files, some a non-ASCII file name."""
    blobs = [data for v in corpus for _, data in v.attachments]
    assert len(set(blobs)) == len(blobs)
    assert any(len(v.attachments) == 2 for v in corpus)
    assert any(len(v.attachments) == 1 for v in corpus)
    assert any(not name.isascii() for v in corpus for name, _ in v.attachments)
    for v in corpus:
        dicom = v.attachments[0][1]
        assert dicom[:128] == bytes(128) and dicom[128:132] == b"DICM"


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_vector_opens_with_its_producer(
    name: str, corpus_by_name: dict[str, Vector], pki: Pki, nss_db_factory: NssDbFactory
) -> None:
    """Walk every layer with the producing tool, checking the metadata on the way."""
    v = corpus_by_name[name]
    raw = v.path.read_bytes()
    assert re.search(rb"(?<!\r)\n|\r(?!\n)", raw) is None, "line ends must all be CRLF"
    top = _headers(raw)
    for header in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        assert top[header], header
    assert v.name in top["Subject"]
    assert v.description.count("\n  ") == len(v.layers) and (
        "openssl cms" in v.description or "cmsutil" in v.description
    )
    assert v.encrypted == (v.encryption is not None) == (v.recipient is not None)
    assert [s.layer for s in v.signatures] == sorted(s.layer for s in v.signatures)

    data = raw
    for index, kind in enumerate(v.layers):
        assert _layer_kind(data) == kind, (index, kind)
        if kind in (ENVELOPED_DATA, AUTH_ENVELOPED_DATA):
            der = extract_smime_payload(data, smime_type=kind)
            printed = openssl_cms_print(der)
            cipher = re.search(r"contentEncryptionAlgorithm: \s*\n\s*algorithm: (\S+)", printed).group(1)
            assert _OPENSSL_CIPHERS[cipher] == v.encryption
            for needle in _ENC_PRINT.get(v.name, ()):
                assert needle.lower() in printed.lower(), needle
            ent = pki.entity(v.recipient)
            by_openssl = openssl_decrypt(data, ent.cert_pem, ent.key_path)
            if v.producer == "nss-cmsutil":
                assert nss_db_factory(v.recipient).decrypt(der) == by_openssl
            data = by_openssl
        elif kind == MULTIPART_SIGNED:
            content, der = split_multipart_signed(data)
            _check_signed_layer(pki, v, index, der)
            if v.producer == "nss-cmsutil":
                report = nss_db_factory().verify_detached(content, der)
                assert "GoodSignature" in report
            data = _verify_openssl(pki, v, index, data, opaque=False)
        else:
            assert kind == SIGNED_DATA
            der = extract_smime_payload(data, smime_type=kind)
            _check_signed_layer(pki, v, index, der)
            by_openssl = _verify_openssl(pki, v, index, data, opaque=True)
            if v.producer == "nss-cmsutil":
                assert nss_db_factory().verify_opaque(der) == by_openssl
            data = by_openssl
    _check_payload(v, data)


def test_expectations_for_special_vectors(corpus_by_name: dict[str, Vector]) -> None:
    """The few vectors whose point is an unusual expectation say so."""
    sha1 = corpus_by_name["openssl-sign-rsa-sha1"].signatures
    assert [(s.valid, s.trusted, s.digest) for s in sha1] == [(False, True, "sha1")]
    assert "SHA-1" in sha1[0].note
    (expired,) = corpus_by_name["openssl-sign-expired-signer"].signatures
    assert expired.valid and not expired.trusted and "not valid at" in expired.note
    two = corpus_by_name["openssl-sign-two-signers"].signatures
    assert sorted(s.signer for s in two) == ["alice", "frank"] and {s.layer for s in two} == {0}
    triple = corpus_by_name["openssl-nested-triple-wrapped"]
    assert triple.layers == (MULTIPART_SIGNED, ENVELOPED_DATA, MULTIPART_SIGNED)
    assert [(s.signer, s.layer) for s in triple.signatures] == [("frank", 0), ("alice", 2)]
    not_first = corpus_by_name["openssl-enc-multi-recipient-not-first"]
    assert len(not_first.recipients) == 3 and not_first.recipients.index(not_first.recipient) == 1
    last = corpus_by_name["openssl-enc-multi-recipient-ecdh-last"]
    assert last.recipients[-1] == last.recipient == "carol"
    for name in ("openssl-sign-rsa-noattr", "nss-sign-rsa-no-signing-time"):
        (sig,) = corpus_by_name[name].signatures
        assert sig.signing_time is None and sig.trusted
    for v in corpus_by_name.values():
        for s in v.signatures:
            if v.name not in ("openssl-sign-expired-signer",):
                assert s.trusted, (v.name, s)
            if v.name != "openssl-sign-rsa-sha1":
                assert s.valid, (v.name, s)


# --------------------------------------------------------------------------- limits of the tools


def _fails(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
    return "" if proc.returncode == 0 else proc.stderr.decode("utf-8", "replace")


def test_openssl_cannot_sign_with_ed25519(pki: Pki, tmp_path: Path) -> None:
    ed = mint_leaf(pki, tmp_path, "ed", ed25519.Ed25519PrivateKey.generate())
    (tmp_path / "in.txt").write_bytes(b"Content-Type: text/plain\r\n\r\nhi\r\n")
    base = ["openssl", "cms", "-sign", "-binary", "-signer", str(ed.cert_pem), "-inkey",
            str(ed.key_path), "-in", "in.txt", "-out", "out.eml"]
    errors = [_fails(base + extra, tmp_path) for extra in ([], ["-md", "sha512"], ["-md", "sha512", "-noattr"])]
    if not all(errors):
        pytest.fail("openssl cms now signs with Ed25519: add Ed25519 vectors to the corpus")
    assert "no default digest" in errors[0] and "invalid digest" in errors[1]
    assert "ed25519-signature" in NOT_PRODUCIBLE


def test_openssl_cannot_encrypt_to_x25519(pki: Pki, tmp_path: Path) -> None:
    xena = mint_leaf(pki, tmp_path, "xena", x25519.X25519PrivateKey.generate())
    (tmp_path / "in.txt").write_bytes(b"Content-Type: text/plain\r\n\r\nhi\r\n")
    err = _fails(["openssl", "cms", "-encrypt", "-binary", "-aes-256-cbc", "-recip",
                  str(xena.cert_pem), "-in", "in.txt", "-out", "out.eml"], tmp_path)
    if not err:
        pytest.fail("openssl cms now encrypts to X25519 (RFC 8418): add xena vectors to the corpus")
    assert "operation not supported for this keytype" in err
    assert "x25519-recipient" in NOT_PRODUCIBLE


def test_nss_cannot_envelope_to_ec_recipient(pki: Pki, tmp_path: Path) -> None:
    db = NssDb.create(tmp_path / "db", roots=[pki.root.cert_pem], intermediates=[pki.inter.cert_pem])
    db.add_cert(pki.entity("carol").cert_pem, "carol", ",,")
    (tmp_path / "in.txt").write_bytes(b"Content-Type: text/plain\r\n\r\nhi\r\n")
    err = _fails(["cmsutil", "-E", "-r", "carol@example.org", "-d", db.spec, "-i", "in.txt",
                  "-o", "out.p7m"], tmp_path)
    if not err:
        pytest.fail("NSS cmsutil now envelopes to EC recipients: add an NSS ECDH vector")
    assert "SEC_ERROR_INVALID_ALGORITHM" in err
    assert "nss-ec-recipient" in NOT_PRODUCIBLE


# --------------------------------------------------------------------------- NSS project vectors

_SHARED_COPY = Path(__file__).resolve().parents[3] / "shared" / "interop" / "nss-openssl"


def test_nss_project_vectors_are_complete() -> None:
    names = sorted(p.name for p in NSS_VECTOR_DIR.iterdir())
    assert "ORIGIN.md" in names and "Fran.p12" in names and "Fran-ec.p12" in names
    assert len([n for n in names if n.endswith(".env")]) == 17
    origin = (NSS_VECTOR_DIR / "ORIGIN.md").read_text()
    assert "Mozilla Public License 2.0" in origin and "nss-dev/nss" in origin


@pytest.mark.skipif(not _SHARED_COPY.is_dir(), reason="shared/interop not beside the checkout")
def test_nss_project_vectors_are_unchanged_copies() -> None:
    for src in sorted(_SHARED_COPY.iterdir()):
        copy = NSS_VECTOR_DIR / src.name
        assert hashlib.sha256(copy.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest(), src.name
    assert len(list(NSS_VECTOR_DIR.iterdir())) == len(list(_SHARED_COPY.iterdir()))


@pytest.fixture(scope="module")
def fran_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    """Fran's keys as PEM (key + certificate) per .p12, extracted by OpenSSL."""
    out = {}
    tmp = tmp_path_factory.mktemp("fran")
    for p12 in (NSS_VECTOR_DIR / "Fran.p12", NSS_VECTOR_DIR / "Fran-ec.p12"):
        pem = tmp / (p12.stem + ".pem")
        subprocess.run(
            ["openssl", "pkcs12", "-in", str(p12), "-passin", f"pass:{corpus_mod.NSS_VECTOR_PASSWORD}",
             "-nodes", "-out", str(pem)],
            check=True, capture_output=True,
        )
        out[p12] = pem
    return out


@pytest.mark.parametrize("name", [n.name for n in corpus_mod.nss_vectors()])
def test_nss_project_vector_decrypts(
    name: str, nss_vectors: list[NssVector], fran_keys: dict[Path, Path]
) -> None:
    (v,) = [n for n in nss_vectors if n.name == name]
    pem = fran_keys[v.p12_path]
    der_out = subprocess.run(
        ["openssl", "cms", "-decrypt", "-binary", "-inform", "DER", "-in", str(v.der_path),
         "-inkey", str(pem), "-recip", str(pem)],
        check=True, capture_output=True,
    ).stdout
    assert der_out == v.plaintext == b"This is a test message to Fran.\n"
    # The .eml wrapper carries the very same DER and opens as S/MIME.
    eml = v.eml_path.read_bytes()
    assert re.search(rb"(?<!\r)\n", eml) is None
    assert extract_smime_payload(eml, smime_type="enveloped-data") == v.der_path.read_bytes()
    assert openssl_decrypt(eml, pem, pem) == v.plaintext
    # The file name's claims match the structure (hash/MGF/label, KDF, cipher).
    if name.startswith("fran-ec_"):
        cipher, kdf = name.removeprefix("fran-ec_ossl-").split("-")
        assert f"{kdf} KDF" in v.key_encryption and f"{cipher}_wrap" in v.key_encryption
        assert v.encryption == f"{cipher}-cbc"
    else:
        hash_alg = re.search(r"sha(\d+)hash", name)
        mgf_alg = re.search(r"sha(\d+)mgf", name)
        assert f"hash sha{hash_alg.group(1) if hash_alg else 1}," in v.key_encryption
        assert f"MGF1 sha{mgf_alg.group(1) if mgf_alg else (hash_alg.group(1) if hash_alg else 1)}" in v.key_encryption
        assert ("label" in name) == ("no label" not in v.key_encryption)
