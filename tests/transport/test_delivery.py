"""Delivery against real servers on this machine: aiosmtpd (STARTTLS/TLS/AUTH and failure modes)
and Dovecot (IMAP with TLS), driven through the CLI as a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smimehelper import services
from smimehelper.cli.main import main
from tests.judges import openssl_decrypt
from tests.pki.make_pki import Pki
from tests.transport.servers import DovecotServer, SmtpServer, imap_fetch_all

PASSWORD = "imap-pass"  # the same secret for SMTP and IMAP, as with real providers


@pytest.fixture
def setup(pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):  # type: ignore[no-untyped-def]
    """alice imported, the test root trusted, bob a contact; the clock at the PKI's time."""
    monkeypatch.setattr(services, "clock", lambda: pki.now)
    password = tmp_path / "password.txt"
    password.write_text(PASSWORD)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    assert run("identity", "import", str(pki.entity("alice").p12), "--passphrase-file", str(pki.passphrase_file))[0] == 0
    assert run("trust", "add", str(pki.root.cert_pem))[0] == 0
    assert run("contacts", "import", str(pki.entity("bob").cert_pem), str(pki.entity("carol").cert_pem))[0] == 0
    return run, password, tmp_path


def add_account(run, password: Path, server: SmtpServer, dovecot: DovecotServer | None = None, security: str = "starttls") -> None:  # type: ignore[no-untyped-def]
    args = ["account", "add", "--email", "alice@example.org", "--smtp-host", server.host, "--smtp-port", str(server.port),
            "--security", security, "--username", "dentist@example.org", "--password-file", str(password),
            "--cafile", str(server.tls.cafile)]
    if dovecot is not None:
        args += ["--imap-host", dovecot.host, "--imap-port", str(dovecot.port), "--imap-security", "starttls"]
    code, out, err = run(*args)
    assert code == 0, err


def compose_send(run, password: Path, pki: Pki, tmp_path: Path, *extra: str) -> tuple[int, str, str, Path]:  # type: ignore[no-untyped-def]
    out = tmp_path / "m.eml"
    code, stdout, err = run("compose", "--to", "bob@example.org", "--subject", "Referral", "--body", "Hello\n",
                            "-o", str(out), "--passphrase-file", str(pki.passphrase_file), "--send",
                            "--password-file", str(password), *extra)
    return code, stdout, err, out


def outbox(run) -> list[dict]:  # type: ignore[no-untyped-def]
    code, out, _ = run("outbox", "list", "--json")
    assert code == 0
    return json.loads(out)["messages"]


def test_starttls_auth_byte_identical_with_sent_copy_and_bcc(setup, smtp_server_factory, clean_dovecot: DovecotServer, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD)
    add_account(run, password, server, clean_dovecot)
    code, out, err, message = compose_send(run, password, pki, tmp_path, "--bcc", "carol@example.org")
    assert code == 0, out + err
    assert len(server.received) == 2 and len(server.sessions) == 1  # one connection for both
    main_copy, bcc_copy = sorted(server.received, key=lambda m: m.rcpt_tos)
    assert main_copy.rcpt_tos == ("bob@example.org",) and bcc_copy.rcpt_tos == ("carol@example.org",)
    assert main_copy.data == message.read_bytes()  # byte-identical
    assert main_copy.mail_from == "alice@example.org" and main_copy.tls and main_copy.auth_user == "dentist@example.org"
    for got in server.received:
        headers = got.data.split(b"\r\n\r\n", 1)[0].lower()
        assert b"\nbcc:" not in headers and b"carol" not in headers
    assert all(a.tls for a in server.auth_attempts)
    # the Bcc copy is encrypted to carol and alice only; bob's copy does not name carol
    bob, carol = pki.entity("bob"), pki.entity("carol")
    openssl_decrypt(message, bob.cert_pem, bob.key_path)
    with pytest.raises(Exception):
        openssl_decrypt(bcc_copy.data, bob.cert_pem, bob.key_path)
    openssl_decrypt(bcc_copy.data, carol.cert_pem, carol.key_path)
    # the Sent copy over IMAP is the same bytes (the main copy only)
    assert imap_fetch_all(clean_dovecot, "Sent") == [message.read_bytes()]
    assert [m["state"] for m in outbox(run)] == ["sent", "sent"]


def test_implicit_tls(setup, smtp_server_factory, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    run, password, tmp_path = setup
    server = smtp_server_factory("smtps", password=PASSWORD)
    add_account(run, password, server, security="tls")
    code, out, err, message = compose_send(run, password, pki, tmp_path)
    assert code == 0, out + err
    assert [m.data for m in server.received] == [message.read_bytes()]


def test_plaintext_only_server_is_refused_and_the_message_stays_queued(setup, smtp_server_factory, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    run, password, tmp_path = setup
    server = smtp_server_factory("plain", password=PASSWORD)
    add_account(run, password, server)
    code, out, err, _ = compose_send(run, password, pki, tmp_path)
    assert code == 4
    assert "does not offer an encrypted connection" in out
    assert server.received == [] and server.auth_attempts == []  # the password never went out in clear
    (item,) = outbox(run)
    assert item["state"] == "queued" and "STARTTLS" in item["last_reply"]


def test_certificate_for_another_host_is_refused(setup, smtp_server_factory, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    run, password, tmp_path = setup
    server = smtp_server_factory("wronghost", password=PASSWORD)
    add_account(run, password, server)
    code, out, _, _ = compose_send(run, password, pki, tmp_path)
    assert code == 4 and "not valid for it" in out
    assert server.received == [] and server.auth_attempts == []
    assert outbox(run)[0]["state"] == "queued"


def test_temporary_failure_then_accepted(setup, smtp_server_factory, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    run, password, tmp_path = setup
    server = smtp_server_factory("tempfail", password=PASSWORD, tempfail_count=1)
    add_account(run, password, server)
    code, out, _, message = compose_send(run, password, pki, tmp_path)
    assert code == 4 and "451" in out
    (item,) = outbox(run)
    assert item["state"] == "queued" and item["next_attempt"] and item["last_reply"].startswith("451")
    code, out, _ = run("outbox", "retry", item["id"], "--password-file", str(password))
    assert code == 0, out
    assert [m.data for m in server.received] == [message.read_bytes()]
    assert outbox(run)[0]["state"] == "sent"


def test_permanent_failure_keeps_the_servers_words(setup, smtp_server_factory, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    run, password, tmp_path = setup
    server = smtp_server_factory("reject", password=PASSWORD)
    add_account(run, password, server)
    code, out, _, _ = compose_send(run, password, pki, tmp_path)
    assert code == 4
    (item,) = outbox(run)
    assert item["state"] == "failed" and "5.7.1 Message rejected by policy" in item["last_reply"]
    assert server.received == []


def test_connection_dropped_before_the_answer_is_sent_again_with_the_same_message_id(setup, smtp_server_factory, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    """RFC 5321 4.5.4.1: no 2xx to the end of the data means not sent. The whole message (final dot
    included) reached the server, which then dropped the connection without answering: the
    message waits with backoff and is sent again, byte-identical (same Message-ID)."""
    run, password, tmp_path = setup
    server = smtp_server_factory("drop", password=PASSWORD)
    add_account(run, password, server)
    code, out, _, message = compose_send(run, password, pki, tmp_path)
    assert code == 4
    assert "did not confirm the message" in out and "same Message-ID" in out and "gets it twice" in out
    (item,) = outbox(run)
    assert item["state"] == "queued" and item["next_attempt"]  # backoff, not given up
    assert "probably" not in item["note"]
    server.behavior = "accept"
    code, out, _ = run("outbox", "retry", "--password-file", str(password))
    assert code == 0, out
    assert [m.data for m in server.data_attempts] == [message.read_bytes()] * 2  # the same message, twice on the wire
    assert [m.data for m in server.received] == [message.read_bytes()]
    assert outbox(run)[0]["state"] == "sent"


def test_too_large_for_the_server_is_refused_before_upload(setup, smtp_server_factory, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD, size_limit=50_000)
    add_account(run, password, server)
    big = tmp_path / "scan.bin"
    big.write_bytes(os.urandom(60_000))
    code, out, _, _ = compose_send(run, password, pki, tmp_path, "--attach", str(big))
    assert code == 4 and "accepts at most" in out
    assert server.data_attempts == []
    assert outbox(run)[0]["state"] == "failed"


def test_account_limit_checked_before_queueing(setup, smtp_server_factory, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD, size_limit=None)
    add_account(run, password, server)
    code, _, err = run("account", "add", "--email", "alice@example.org", "--smtp-host", server.host, "--smtp-port", str(server.port),
                       "--security", "starttls", "--username", "dentist@example.org", "--cafile", str(server.tls.cafile),
                       "--size-limit-mb", "0.001")
    assert code == 0, err
    code, _, err, _ = compose_send(run, password, pki, tmp_path)
    assert code == 2 and "more than the 0 MB your mail account" in err
    assert outbox(run) == [] and server.data_attempts == []


def test_draft_hand_offs_are_gone_and_say_why(setup, smtp_server_factory, clean_dovecot_names: DovecotServer, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    """Issue 10: the real Thunderbird re-composed both kinds of draft and sent them in clear or
    empty, so ``export --imap-drafts`` / ``--to-draft`` refuse with the reason and touch nothing."""
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD)
    add_account(run, password, server, clean_dovecot_names)
    message = tmp_path / "draft-source.eml"
    code, _, err = run("compose", "--to", "bob@example.org", "--subject", "s", "--body", "b", "-o", str(message),
                       "--passphrase-file", str(pki.passphrase_file))
    assert code == 0, err
    code, out, err = run("export", str(message), "--imap-drafts")
    assert code == 2 and "--imap-drafts was removed" in err and "unencrypted" in err
    assert imap_fetch_all(clean_dovecot_names, "Drafts") == []
    draft = tmp_path / "outlook.eml"
    code, out, err = run("export", str(message), "--to-draft", str(draft))
    assert code == 2 and "--to-draft was removed" in err
    assert not draft.exists() and server.data_attempts == []


def _spawn_send(message: Path, password: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "smimehelper.cli.main", "send", str(message), "--password-file", str(password)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=dict(os.environ))


@pytest.mark.parametrize("hold", ["rcpt", "data-reply"])
def test_kill_9_while_sending_loses_nothing(setup, smtp_server_factory, pki: Pki, hold: str) -> None:  # type: ignore[no-untyped-def]
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD)
    server.hold = hold
    add_account(run, password, server)
    message = tmp_path / "m.eml"
    assert run("compose", "--to", "bob@example.org", "--subject", "s", "--body", "b", "-o", str(message),
               "--passphrase-file", str(pki.passphrase_file))[0] == 0
    process = _spawn_send(message, password)
    assert server.holding.wait(30), process.communicate(timeout=5)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    server.release()
    time.sleep(0.3)
    (item,) = outbox(run)
    assert item["state"] == "sending"  # its lock died with the process
    server.hold = None
    code, out, _ = run("outbox", "retry", "--password-file", str(password))
    after = outbox(run)[0]
    assert code == 0 and after["state"] == "sent", out
    if hold == "rcpt":  # the server never got the message: it is sent now, once
        assert [m.data for m in server.received] == [message.read_bytes()]
    else:  # the server took it but the answer never arrived: sent again (the documented duplicate)
        assert [m.data for m in server.received] == [message.read_bytes()] * 2
    (stored,) = services.Stores.open().outbox.items()
    assert any(state == "queued" and "may get it twice" in note for _, state, note in stored.history)


def test_many_queued_messages_share_one_connection_without_leaking(setup, smtp_server_factory, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD)
    add_account(run, password, server)
    message = tmp_path / "m.eml"
    assert run("compose", "--to", "bob@example.org", "--subject", "s", "--body", "b", "-o", str(message),
               "--passphrase-file", str(pki.passphrase_file))[0] == 0
    stores = services.Stores.open()
    counts = []
    for _ in range(2):  # two rounds: descriptors must not grow with the number of messages
        for _ in range(30):
            services.queue_message(stores, message, None, append_to_sent=False)
        code, out, _ = run("outbox", "retry", "--password-file", str(password))
        assert code == 0, out
        time.sleep(0.2)
        counts.append(len(os.listdir("/proc/self/fd")))
    assert len(server.received) == 60 and len(server.sessions) == 2  # one connection per drain
    assert counts[1] <= counts[0]
