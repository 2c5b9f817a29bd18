"""Header injection never gains an SMTP recipient (issue 9): judged by a real SMTP server.

aiosmtpd (tests/transport/servers.py) records every session, RCPT and DATA, so "nothing was
sent" and "the envelope is exactly To + Cc" are observed from the server's side:

- ``compose --send`` with the issue's attacks (the real ``smimehelper`` process): refused,
  the server never sees a connection; a clean To + Cc message reaches exactly those two, and
  the delivered bytes still decrypt and verify with OpenSSL.
- ``send`` of an existing .eml whose header block was tampered with (a bare LF or CR turning
  the rest of the Subject into a Cc line, a second Cc or To header, an encoded word hiding a
  line break, a NUL, a stray line): refused, nothing queued, nothing sent; ``export`` (the
  hand-off to Thunderbird's Outbox) refuses them too.
"""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
from pathlib import Path

import pytest

from tests.console import console_script
from tests.core.handoff.test_queue import make_profile
from tests.judges import openssl_decrypt, openssl_verify
from tests.pki.make_pki import Pki
from tests.transport.servers import SmtpServer
from tests.transport.test_delivery import PASSWORD, add_account, outbox, setup  # noqa: F401 (fixture)


def real_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(console_script()), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, LC_ALL="C.UTF-8"))


def compose_send_argv(pki: Pki, password: Path, out: Path, *extra: str) -> list[str]:
    return ["compose", "--to", "bob@example.org", "--body", "Hello\n", "-o", str(out),
            "--passphrase-file", str(pki.passphrase_file), "--send", "--password-file", str(password), *extra]


def nothing_reached(server: SmtpServer) -> None:
    assert server.sessions == [] and server.data_attempts == [] and server.received == []


@pytest.mark.parametrize(
    "extra",
    [
        ("--subject", "Hi\r\nCc: x@evil.org"),
        ("--subject", "Hi\r\nBcc: x@evil.org"),
        ("--subject", "Hi\nCc: x@evil.org"),
        ("--subject", "Hi\r\n\r\nInjected body"),
        ("--subject", "Referral", "--cc", '"Carol\r\nCc: x@evil.org" <carol@example.org>'),
        ("--subject", "Referral", "--cc", "=?utf-8?q?Carol=0D=0ACc:_x@evil.org?= <carol@example.org>"),
    ],
    ids=["crlf-cc", "crlf-bcc", "lf-cc", "end-of-headers", "name-crlf", "name-encoded-word"],
)
def test_compose_send_with_an_injection_sends_nothing(setup, smtp_server_factory, pki: Pki, extra: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD)
    add_account(run, password, server)
    out = tmp_path / "m.eml"
    done = real_cli(*compose_send_argv(pki, password, out, *extra))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    nothing_reached(server)
    assert not out.exists() and outbox(run) == []


def test_compose_send_envelope_is_exactly_to_and_cc(setup, smtp_server_factory, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD)
    add_account(run, password, server)
    out = tmp_path / "m.eml"
    done = real_cli(*compose_send_argv(pki, password, out, "--subject", "Röntgen =?utf-8?q?x=0D=0A?= Befund",
                                       "--cc", '"Müller, Carol" <carol@example.org>'))
    assert done.returncode == 0, done.stdout + done.stderr
    (got,) = server.received
    assert sorted(got.rcpt_tos) == ["bob@example.org", "carol@example.org"]
    assert got.mail_from == "alice@example.org" and got.data == out.read_bytes()
    msg = email.message_from_bytes(got.data, policy=email.policy.default)
    assert msg["Subject"] == "Röntgen =?utf-8?q?x=0D=0A?= Befund"
    assert msg.get_all("Cc") is not None and len(msg.get_all("Cc")) == 1 and msg.get("Bcc") is None
    carol = pki["carol"]
    openssl_verify(openssl_decrypt(got.data, carol.cert_pem, carol.key_path), pki.root.cert_pem, attime=None)


CLEAN_SUBJECT = b"Subject: Referral\r\n"
TAMPERINGS: dict[str, tuple[bytes, bytes]] = {
    # (what is replaced in the clean header block, by what)
    "bare-lf-in-subject": (CLEAN_SUBJECT, b"Subject: Referral\nCc: x@evil.org\r\n"),
    "bare-cr-in-subject": (CLEAN_SUBJECT, b"Subject: Referral\rCc: x@evil.org\r\n"),
    "second-cc": (CLEAN_SUBJECT, b"Cc: carol@example.org\r\nSubject: Referral\r\nCc: x@evil.org\r\n"),
    "second-to": (CLEAN_SUBJECT, b"Subject: Referral\r\nTo: x@evil.org\r\n"),
    "encoded-crlf-in-name": (b"To: bob@example.org\r\n", b"To: =?utf-8?q?Bob=0D=0ACc:_x@evil.org?= <bob@example.org>\r\n"),
    "encoded-crlf-in-subject": (CLEAN_SUBJECT, b"Subject: =?utf-8?q?Hi=0D=0ACc:_x@evil.org?=\r\n"),
    "nul-in-subject": (CLEAN_SUBJECT, b"Subject: Referral\x00Cc: x@evil.org\r\n"),
    "stray-line": (CLEAN_SUBJECT, b"Subject: Referral\r\nx@evil.org\r\n"),
}


@pytest.fixture
def clean_message(setup, pki: Pki) -> Path:  # type: ignore[no-untyped-def]
    run, _password, tmp_path = setup
    out = tmp_path / "clean.eml"
    code, _, err = run("compose", "--to", "bob@example.org", "--subject", "Referral", "--body", "Hello\n",
                       "-o", str(out), "--passphrase-file", str(pki.passphrase_file))
    assert code == 0, err
    assert CLEAN_SUBJECT in out.read_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n"
    return out


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_send_of_a_tampered_message_gains_no_recipient(setup, smtp_server_factory, clean_message: Path, pki: Pki, tampering: str) -> None:  # type: ignore[no-untyped-def]
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD)
    add_account(run, password, server)
    old, new = TAMPERINGS[tampering]
    data = clean_message.read_bytes()
    head, body = data.split(b"\r\n\r\n", 1)
    head += b"\r\n"
    assert old in head
    tampered = tmp_path / f"{tampering}.eml"
    tampered.write_bytes(head.replace(old, new, 1) + b"\r\n" + body)
    done = real_cli("send", str(tampered), "--password-file", str(password))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "was not sent" in done.stderr and "header" in done.stderr and "Traceback" not in done.stderr
    nothing_reached(server)
    assert outbox(run) == []
    profile = make_profile(tmp_path)  # a Thunderbird profile: the hand-off must refuse it too
    exported = real_cli("export", str(tampered), "--thunderbird-profile", str(profile.path), "--no-start")
    assert exported.returncode == 2 and "header lines are not sound" in exported.stderr, exported.stderr
    assert not (profile.path / "Mail").exists()


def test_send_of_the_clean_message_reaches_exactly_its_recipient(setup, smtp_server_factory, clean_message: Path) -> None:  # type: ignore[no-untyped-def]
    run, password, _ = setup
    server = smtp_server_factory("starttls", password=PASSWORD)
    add_account(run, password, server)
    done = real_cli("send", str(clean_message), "--password-file", str(password))
    assert done.returncode == 0, done.stdout + done.stderr
    (got,) = server.received
    assert got.rcpt_tos == ("bob@example.org",) and got.data == clean_message.read_bytes()
