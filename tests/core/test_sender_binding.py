"""Who sent it: a valid signature vouches for the From line only when it names exactly the signer
(RFC 8550 section 3, RFC 5322 section 3.6). Issue 9: each forged From below read "Everything
checks out" before, because only the first or the parsed-out address was compared.

The From header is outside a detached signature, so each forgery keeps a signature that OpenSSL
still verifies: the attacks are real, and only the sender binding catches them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smimehelper.core.sender_binding import addresses_in, sender_problem
from tests.core.test_reader_negative import _open, _signed
from tests.interop.test_open_cli import run_main
from tests.judges import openssl_verify
from tests.pki.make_pki import Pki

ORIGINAL = b"From: Sender <alice@example.org>"

FORGED = {
    "two mailboxes": b"From: Sender <alice@example.org>, Boss <boss@bank.example>",
    "display name is another address": b'From: "boss@bank.example" <alice@example.org>',
    "display name, full-width at sign": 'From: "boss\uff20bank.example" <alice@example.org>'.encode(),
    "display name in an encoded word": b"From: =?utf-8?q?boss=40bank=2Eexample?= <alice@example.org>",
    "a group around another mailbox": b"From: Staff: boss@bank.example, alice@example.org;",
    "empty": b"From: ",
    "not an address": b"From: Your Bank",
}


def _forge(pki: Pki, tmp_path: Path, header: bytes | None, *, second: bytes | None = None) -> Path:
    path = _signed(pki, tmp_path)
    data = path.read_bytes()
    assert ORIGINAL in data
    if header is None:
        data = data.replace(ORIGINAL + b"\r\n", b"")
    else:
        data = data.replace(ORIGINAL, header + (b"\r\n" + second if second else b""))
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("what", list(FORGED))
def test_forged_from_lines_are_not_trusted(pki: Pki, tmp_path: Path, what: str) -> None:
    path = _forge(pki, tmp_path, FORGED[what])
    openssl_verify(path, pki.root.cert_pem, attime=pki.now)  # the signature itself still holds
    opened = _open(pki, path)
    (verdict,) = opened.signatures
    assert verdict.valid and not verdict.trusted, what
    assert (verdict.reason or "").startswith("Signed by alice@example.org, but the "), verdict.reason
    assert opened.sender_problem == verdict.reason
    assert not opened.all_good


def test_two_from_headers(pki: Pki, tmp_path: Path) -> None:
    path = _forge(pki, tmp_path, ORIGINAL, second=b"From: Boss <boss@bank.example>")
    (verdict,) = _open(pki, path).signatures
    assert not verdict.trusted and "shows 2 senders" in (verdict.reason or "")
    assert "boss@bank.example" in (verdict.reason or "")


def test_missing_from(pki: Pki, tmp_path: Path) -> None:
    (verdict,) = _open(pki, _forge(pki, tmp_path, None)).signatures
    assert not verdict.trusted and "no sender" in (verdict.reason or "")


@pytest.mark.parametrize("header", [ORIGINAL, b"From: alice@example.org", b'From: "Dr. Alice (Practice)" <ALICE@example.org>',
                                    b"From: =?utf-8?q?Dr=2E_Al=C3=AFce?= <alice@example.org>"])
def test_honest_from_lines_are_trusted(pki: Pki, tmp_path: Path, header: bytes) -> None:
    (verdict,) = _open(pki, _forge(pki, tmp_path, header)).signatures
    assert verdict.valid and verdict.trusted, verdict.reason


def test_the_cli_shows_the_raw_from_and_exits_1(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _forge(pki, tmp_path, FORGED["display name is another address"])
    key = ["--key", str(pki.entity("bob").p12)]
    passfile = tmp_path / "pass"
    passfile.write_text(pki.p12_password)
    result = run_main(["open", str(path), *key, "--passphrase-file", str(passfile), "--trust", str(pki.root.cert_pem), "--json"], capsys)
    assert result.code == 1, result.err
    doc = json.loads(result.out)
    assert doc["signatures"][0]["valid"] is True and doc["signatures"][0]["trusted"] is False
    assert '"boss@bank.example" <alice@example.org>' in doc["signatures"][0]["reason"]


def test_forged_signature_is_never_trusted_in_json(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``trusted`` is false whenever ``valid`` is false: a script checking only ``trusted`` is not fooled."""
    path = _signed(pki, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data.replace(b"dose 5 mg", b"dose 9 mg"))
    passfile = tmp_path / "pass"
    passfile.write_text(pki.p12_password)
    result = run_main(["open", str(path), "--key", str(pki.entity("bob").p12), "--passphrase-file", str(passfile),
                       "--trust", str(pki.root.cert_pem), "--json"], capsys)
    assert result.code == 1
    (signature,) = json.loads(result.out)["signatures"]
    assert signature["valid"] is False and signature["trusted"] is False


def test_addresses_are_found_wherever_they_hide() -> None:
    assert addresses_in('"boss\uff20bank.example" <alice@example.org>') == {"boss@bank.example", "alice@example.org"}
    assert addresses_in("Dr Alice") == set()
    assert sender_problem(["alice@example.org"], []) is None  # no valid signature: nothing to bind
