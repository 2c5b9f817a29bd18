"""Hostile and damaged messages: a specific typed error or a failed verdict, never a crash."""

from __future__ import annotations

import base64
import datetime as dt
import os
import resource
import subprocess
from pathlib import Path

import pytest

from smimehelper.core.certs import load_certificate
from smimehelper.core.errors import MessageFormatError
from smimehelper.core.identity import load_pkcs12
from smimehelper.core.reader import MAX_LAYERS, open_message
from tests.core.helpers import compose
from tests.pki.make_pki import Pki

LATER = dt.timedelta(minutes=1)


def _open(pki: Pki, path: Path, who: str = "bob"):
    return open_message(
        path,
        identities=[load_pkcs12(pki.entity(who).p12, pki.p12_password.encode())],
        anchors=[load_certificate(pki.root.cert_pem)],
        now=pki.now + LATER,
    )


def _signed(pki: Pki, tmp_path: Path, body: str = "dose 5 mg\n", name: str = "signed.eml") -> Path:
    out = tmp_path / name
    compose(pki, out, encrypt=False, body=body)
    return out


def test_our_signed_message_is_valid_and_trusted(pki: Pki, tmp_path: Path) -> None:
    opened = _open(pki, _signed(pki, tmp_path))
    assert [(s.valid, s.trusted) for s in opened.signatures] == [(True, True)]
    assert opened.all_good


def test_one_byte_changed_in_signed_content(pki: Pki, tmp_path: Path) -> None:
    path = _signed(pki, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data.replace(b"dose 5 mg", b"dose 6 mg"))
    (verdict,) = _open(pki, path).signatures
    assert not verdict.valid
    assert "changed after it was signed" in (verdict.reason or "")


def test_signature_taken_from_another_message(pki: Pki, tmp_path: Path) -> None:
    first = _signed(pki, tmp_path, "first\n", "a.eml").read_bytes()
    second = _signed(pki, tmp_path, "second\n", "b.eml").read_bytes()
    marker = b"Content-Type: application/pkcs7-signature"
    sig_first = first[first.index(marker):]
    sig_second = second[second.index(marker):]
    # keep each message's own closing boundary: swap only the base64 signature bodies
    body_a = sig_first.split(b"\r\n\r\n", 1)[1].split(b"--", 1)[0]
    body_b = sig_second.split(b"\r\n\r\n", 1)[1].split(b"--", 1)[0]
    forged = tmp_path / "forged.eml"
    forged.write_bytes(first.replace(body_a, body_b))
    (verdict,) = _open(pki, forged).signatures
    assert not verdict.valid


def test_signature_time_in_the_future_is_not_valid(pki: Pki, tmp_path: Path) -> None:
    path = _signed(pki, tmp_path)
    opened = open_message(path, anchors=[load_certificate(pki.root.cert_pem)], now=pki.now - dt.timedelta(hours=1))
    (verdict,) = opened.signatures
    assert not verdict.valid and "future" in (verdict.reason or "")


def test_untrusted_without_anchor_and_with_another_root(pki: Pki, tmp_path: Path) -> None:
    path = _signed(pki, tmp_path)
    (verdict,) = open_message(path, now=pki.now + LATER).signatures
    assert verdict.valid and not verdict.trusted and "--trust" in (verdict.reason or "")
    (verdict,) = open_message(path, anchors=[load_certificate(pki.entity("bob").cert_pem)], now=pki.now + LATER).signatures
    assert verdict.valid and not verdict.trusted and "not among your trusted" in (verdict.reason or "")


def test_sender_who_did_not_sign_is_not_trusted(pki: Pki, tmp_path: Path) -> None:
    path = _signed(pki, tmp_path)
    data = path.read_bytes().replace(b"From: Sender <alice@example.org>", b"From: Mallory <mallory@example.org>")
    path.write_bytes(data)
    (verdict,) = _open(pki, path).signatures
    assert verdict.valid and not verdict.trusted
    assert 'Signed by alice@example.org, but the sender shown is "Mallory <mallory@example.org>"' in (verdict.reason or "")


def _encrypted(pki: Pki, tmp_path: Path) -> Path:
    out = tmp_path / "enc.eml"
    attachment = tmp_path / "x.bin"
    attachment.write_bytes(os.urandom(50_000))
    compose(pki, out, attachments=(attachment,))
    return out


def test_truncated_base64(pki: Pki, tmp_path: Path) -> None:
    path = _encrypted(pki, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MessageFormatError):
        _open(pki, path)


def test_truncated_at_a_line_end(pki: Pki, tmp_path: Path) -> None:
    path = _encrypted(pki, tmp_path)
    data = path.read_bytes()
    cut = data.rfind(b"\r\n", 0, len(data) // 2) + 2
    path.write_bytes(data[:cut])
    with pytest.raises(MessageFormatError, match="cut off|truncated"):
        _open(pki, path)


def _wrap(der: bytes, tmp_path: Path, smime_type: str = "enveloped-data") -> Path:
    body = base64.encodebytes(der).replace(b"\n", b"\r\n")
    path = tmp_path / "crafted.eml"
    path.write_bytes(
        b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: application/pkcs7-mime; smime-type=" + smime_type.encode() + b"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + body
    )
    return path


@pytest.mark.parametrize("der", [os.urandom(3000), b"", b"\x30\x80" + os.urandom(100), b"\x04\x05hello"])
def test_garbage_der(pki: Pki, tmp_path: Path, der: bytes) -> None:
    with pytest.raises(MessageFormatError):
        _open(pki, _wrap(der, tmp_path))


@pytest.mark.parametrize(
    "der",
    [
        # ContentInfo claiming 2^62 bytes
        bytes.fromhex("3088") + (1 << 62).to_bytes(8, "big") + bytes.fromhex("06092a864886f70d010703"),
        # EnvelopedData whose RecipientInfos SET claims 2^39 bytes
        bytes.fromhex("3080 06092a864886f70d010703 a080 3080 020100 3185")
        + (1 << 39).to_bytes(5, "big") + b"\x00" * 32,
        # an encrypted content OCTET STRING claiming 2^50 bytes, after valid-looking headers
        bytes.fromhex("3080 06092a864886f70d010702 a080 3080 020101 3100 3080 06092a864886f70d010701 a080 0487")
        + (1 << 50).to_bytes(7, "big") + b"abc",
    ],
    ids=["content-info", "recipient-infos", "octet-string"],
)
def test_absurd_declared_lengths_do_not_allocate(pki: Pki, tmp_path: Path, der: bytes) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(MessageFormatError):
        _open(pki, _wrap(der, tmp_path, "signed-data"))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_nesting_deeper_than_the_limit(pki: Pki, tmp_path: Path) -> None:
    signed = _signed(pki, tmp_path).read_bytes()
    headers, body = signed.split(b"\r\n\r\n", 1)
    content_type = headers[headers.index(b"Content-Type: multipart/signed"):]
    entity = content_type + b"\r\n\r\n" + body
    for depth in range(MAX_LAYERS + 2):
        boundary = f"=_nest{depth}".encode()
        signature_part = entity[entity.rindex(b"Content-Type: application/pkcs7-signature"):].rsplit(b"\r\n--", 1)[0]
        entity = (
            b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="'
            + boundary + b'"\r\n\r\n--' + boundary + b"\r\n" + entity + b"\r\n--" + boundary + b"\r\n"
            + signature_part + b"\r\n--" + boundary + b"--\r\n"
        )
    path = tmp_path / "deep.eml"
    path.write_bytes(b"From: alice@example.org\r\nMIME-Version: 1.0\r\n" + entity)
    with pytest.raises(MessageFormatError, match="more than"):
        _open(pki, path)


@pytest.mark.parametrize(
    "content",
    [b"", os.urandom(2000), b"\xff\xd8\xff\xe0" + os.urandom(500), b"just some words without headers\n"],
    ids=["empty", "random", "jpeg", "text"],
)
def test_not_a_mime_message(pki: Pki, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.eml"
    path.write_bytes(content)
    with pytest.raises(MessageFormatError):
        _open(pki, path)


def test_zero_length_parts(pki: Pki, tmp_path: Path) -> None:
    path = tmp_path / "empty-parts.eml"
    path.write_bytes(
        b"From: alice@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=z.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n\r\n--b--\r\n"
    )
    opened = _open(pki, path)
    assert [(a.filename, a.size) for a in opened.attachments] == [("z.bin", 0)]


def test_empty_pkcs7_body(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(MessageFormatError):
        _open(pki, _wrap(b"", tmp_path))


def test_gcm_tampering_shows_nothing(pki: Pki, tmp_path: Path) -> None:
    out = tmp_path / "gcm.eml"
    compose(pki, out, gcm=True, body="secret\n")
    data = out.read_bytes()
    headers, body = data.split(b"\r\n\r\n", 1)
    der = bytearray(base64.b64decode(body))
    der[-80] ^= 1
    tampered = _wrap(bytes(der), tmp_path, "authEnveloped-data")
    opened = _open(pki, tampered)
    assert opened.encrypted and not opened.decrypted
    assert "altered" in (opened.decryption_problem or "")
    assert opened.body_text is None and opened.attachments == ()


def test_lf_only_message_still_verifies(pki: Pki, tmp_path: Path) -> None:
    """Messages saved by Unix tools with bare LF: canonicalised before hashing, like Thunderbird."""
    path = _signed(pki, tmp_path)
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))
    (verdict,) = _open(pki, path).signatures
    assert verdict.valid and verdict.trusted


def test_openssl_verifies_what_we_saved_is_what_was_signed(pki: Pki, tmp_path: Path) -> None:
    """Cross-check: the attachment bytes we extract equal what OpenSSL extracts."""
    path = _encrypted(pki, tmp_path)
    bob = pki.entity("bob")
    proc = subprocess.run(
        ["openssl", "cms", "-decrypt", "-in", str(path), "-recip", str(bob.cert_pem), "-inkey", str(bob.key_path)],
        capture_output=True, check=True,
    )
    import email
    import email.policy
    import hashlib

    inner = email.message_from_bytes(proc.stdout, policy=email.policy.default)
    content = inner.get_payload()[0]
    (part,) = list(content.iter_attachments())
    opened = _open(pki, path)
    assert opened.attachments[0].sha256 == hashlib.sha256(part.get_payload(decode=True)).hexdigest()


def test_a_damaged_later_part_takes_back_saved_attachments(pki: Pki, tmp_path: Path) -> None:
    path = tmp_path / "partly-damaged.eml"
    good = base64.encodebytes(b"first file").replace(b"\n", b"\r\n")
    path.write_bytes(
        b"From: alice@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=a.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + good +
        b"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=b.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nQUJD*\r\n--b--\r\n"
    )
    saved = tmp_path / "saved"
    with pytest.raises(MessageFormatError):
        open_message(path, save_dir=saved, now=pki.now)
    assert list(saved.iterdir()) == []


# Regressions found by tests/fuzz/fuzz_reader.py -------------------------------------------


def _plain(tmp_path: Path, body: bytes, content_type: bytes = b"multipart/mixed; boundary=b1") -> Path:
    path = tmp_path / "plain.eml"
    path.write_bytes(b"From: alice@example.org\r\nMIME-Version: 1.0\r\nContent-Type: " + content_type + b"\r\n\r\n" + body)
    return path


def test_multipart_bodies_larger_than_the_scan_chunk(pki: Pki, tmp_path: Path) -> None:
    """Attachments of several MB (the scanner reads in chunks): every byte comes back."""
    data = os.urandom(5 * 1024 * 1024 + 123)
    out = tmp_path / "big.eml"
    attachment = tmp_path / "study.bin"
    attachment.write_bytes(data)
    compose(pki, out, attachments=(attachment,))
    opened = _open(pki, out)
    assert opened.all_good and opened.attachments[0].size == len(data)
    import hashlib

    assert opened.attachments[0].sha256 == hashlib.sha256(data).hexdigest()


def test_a_longer_boundary_at_the_start_is_not_ours(pki: Pki, tmp_path: Path) -> None:
    path = _plain(tmp_path, b"--b1x\r\n\r\nnot a part\r\n--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b1--\r\n")
    assert _open(pki, path).body_text == "hello"


def test_delimiter_exactly_at_a_chunk_border(pki: Pki, tmp_path: Path) -> None:
    from smimehelper.core.mime.parser import FIND_CHUNK

    first = b"Content-Type: text/plain\r\n\r\n"
    filler = b"x" * (FIND_CHUNK - len(b"--b1\r\n") - len(first) - 2)
    body = b"--b1\r\n" + first + filler + b"\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=a.bin\r\n\r\n12345\r\n--b1--\r\n"
    opened = _open(pki, _plain(tmp_path, body))
    assert [(a.filename, a.size) for a in opened.attachments] == [("a.bin", 5)]
    assert opened.body_text == "x" * len(filler)


def test_charset_that_refuses_replacement(pki: Pki, tmp_path: Path) -> None:
    path = _plain(tmp_path, b"hello", b"text/plain; charset=idna")
    assert _open(pki, path).body_text == "hello"


def test_damaged_certificate_in_a_signature(pki: Pki, tmp_path: Path) -> None:
    path = _signed(pki, tmp_path)
    data = bytearray(path.read_bytes())
    signature_at = data.index(b"Content-Type: application/pkcs7-signature")
    body_at = data.index(b"\r\n\r\n", signature_at) + 4
    der = bytearray(base64.b64decode(bytes(data[body_at:data.index(b"\r\n--", body_at)])))
    cert_at = der.index(bytes.fromhex("3082"), 60)  # inside the certificates
    der[cert_at + 200] ^= 0x80
    encoded = base64.encodebytes(bytes(der)).replace(b"\n", b"\r\n")
    path.write_bytes(bytes(data[:body_at]) + encoded + bytes(data[data.index(b"--", data.index(b"\r\n--", body_at) + 2):]))
    opened = _open(pki, path)
    assert len(opened.signatures) == 1 and not opened.all_good and opened.signatures[0].reason


def test_many_attachments_with_the_same_name_save_in_linear_time(pki: Pki, tmp_path: Path) -> None:
    import time

    part = b"--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\nx\r\n"
    path = _plain(tmp_path, part * 400 + b"--b1--\r\n")
    started = time.perf_counter()
    opened = open_message(path, save_dir=tmp_path / "saved", now=pki.now)
    assert len(opened.attachments) == 400 and len(list((tmp_path / "saved").iterdir())) == 400
    assert opened.attachments[-1].filename == "a (399).pdf"
    assert time.perf_counter() - started < 20
