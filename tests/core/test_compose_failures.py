"""Failures while composing: a clear typed error and never a partial file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smimehelper.core.compose import ComposeCancelled, ComposeRequest, compose_to_file
from smimehelper.core.errors import AddressError, CertificateError, ComposeError, InputFileError
from smimehelper.core.identity import load_pkcs12
from smimehelper.core.mime.writer import prepare_attachment
from tests.core.helpers import compose
from tests.pki.make_pki import Pki


def _only(tmp_path: Path, *names: str) -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_cancel_leaves_nothing(pki: Pki, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(5_000_000))
    identity = load_pkcs12(pki.entity("alice").p12, pki.p12_password.encode())
    request = ComposeRequest(
        sender="alice@example.org", to=("bob@example.org",), subject="s", body="b",
        identity=identity, attachments=(prepare_attachment(big),),
        recipient_certs=(pki.entity("bob").cert,), now=pki.now,
    )
    calls = []
    with pytest.raises(ComposeCancelled):
        compose_to_file(request, tmp_path / "out.eml", progress=lambda d, t: calls.append((d, t)),
                        cancelled=lambda: len(calls) >= 2)
    _only(tmp_path, "big.bin")
    assert calls[0][1] == 5_000_000


def test_progress_reaches_the_total(pki: Pki, tmp_path: Path) -> None:
    data = tmp_path / "a.bin"
    data.write_bytes(os.urandom(2_000_000))
    identity = load_pkcs12(pki.entity("alice").p12, pki.p12_password.encode())
    seen = []
    compose_to_file(
        ComposeRequest(sender="alice@example.org", to=("bob@example.org",), subject="s", body="b",
                       identity=identity, attachments=(prepare_attachment(data),),
                       recipient_certs=(pki.entity("bob").cert,), now=pki.now),
        tmp_path / "out.eml", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (2_000_000, 2_000_000)


def test_attachment_vanishing_after_the_check(pki: Pki, tmp_path: Path) -> None:
    gone = tmp_path / "gone.bin"
    gone.write_bytes(b"x")
    attachment = prepare_attachment(gone)
    gone.unlink()
    identity = load_pkcs12(pki.entity("alice").p12, pki.p12_password.encode())
    with pytest.raises(InputFileError, match="gone.bin"):
        compose_to_file(
            ComposeRequest(sender="alice@example.org", to=("bob@example.org",), subject="s",
                           body="b", identity=identity, attachments=(attachment,),
                           recipient_certs=(pki.entity("bob").cert,), now=pki.now),
            tmp_path / "out.eml")
    _only(tmp_path)


@pytest.mark.parametrize(
    ("to", "error", "words"),
    [
        (("dave",), None, None),
        (("expired",), CertificateError, "expired on"),
        (("notyet",), CertificateError, "not valid before"),
        (("signonly",), CertificateError, "may not be used for encryption"),
        (("wrongeku",), CertificateError, "not meant for e-mail"),
        (("weak",), CertificateError, "weak 1024-bit"),
    ],
)
def test_recipient_certificate_problems(pki: Pki, tmp_path: Path, to, error, words) -> None:
    out = tmp_path / "out.eml"
    if error is None:
        compose(pki, out, to=to)
        return
    with pytest.raises(error, match=words):
        compose(pki, out, to=to)
    _only(tmp_path)


def test_address_without_certificate(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(AddressError, match="no certificate for nobody@example.org"):
        compose(pki, tmp_path / "out.eml", to=("nobody@example.org",))
    _only(tmp_path)


def test_sender_address_must_match_the_certificate(pki: Pki, tmp_path: Path) -> None:
    identity = load_pkcs12(pki.entity("alice").p12, pki.p12_password.encode())
    with pytest.raises(AddressError, match="issued to alice@example.org"):
        compose_to_file(
            ComposeRequest(sender="mallory@example.org", to=("bob@example.org",), subject="s",
                           body="b", identity=identity, recipient_certs=(pki.entity("bob").cert,),
                           now=pki.now),
            tmp_path / "out.eml")


def test_neither_signed_nor_encrypted_is_refused(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="unprotected"):
        compose(pki, tmp_path / "out.eml", sign=False, encrypt=False)


def test_expired_sender_cannot_sign(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="Your certificate expired on .*certificate provider"):
        compose(pki, tmp_path / "out.eml", sender="expired")


def test_mixed_ec_and_rsa_recipients_warn(pki: Pki, tmp_path: Path) -> None:
    result = compose(pki, tmp_path / "out.eml", to=("bob", "carol"))
    assert any("Thunderbird before version 128" in w for w in result.warnings)
    assert not any("Thunderbird" in w for w in compose(pki, tmp_path / "out2.eml", to=("bob",)).warnings)


def test_unused_certificate_and_strong_options_warn(pki: Pki, tmp_path: Path) -> None:
    result = compose(pki, tmp_path / "out.eml", to=("bob",), gcm=True, oaep=True)
    text = " ".join(result.warnings)
    assert "AES-GCM was chosen" in text
    assert "RSA-OAEP was chosen" in text
    assert "carol@example.org was given but carol@example.org is not among the recipients" in text


def test_own_certificate_problems_point_to_the_provider(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(CertificateError) as info:
        compose(pki, tmp_path / "out.eml", sender="signonly")
    assert str(info.value).startswith("Your certificate may not be used for encryption")
    assert "certificate provider" in str(info.value)
