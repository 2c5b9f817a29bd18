"""The network attacks of the developers' guide, for SMTP: a server that stalls (before the
greeting, mid-DATA, after the final dot), drops after MAIL FROM, answers garbage or without end,
announces a tiny SIZE, or lies (250 to RCPT, then 5xx or 4xx to DATA).

Each peer is a scripted raw socket server (tests/transport/raw_smtp.py) behind real TLS; the
client is smimehelper's own delivery code, through the CLI where the default timeouts do not
matter and through ``drain`` with 2-second timeouts where they do. For every case: a clear
outcome, the right state in the outbox, a bounded time, and no delivery counted that the server
did not confirm with a 2xx.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smimehelper import services
from smimehelper.cli.main import main
from smimehelper.core.transport.delivery import drain
from smimehelper.core.transport.smtp import SmtpSession
from tests.transport.raw_smtp import USER, Closed, Conversation, RawSmtpServer
from tests.transport.servers import TlsMaterials

PASSWORD = "smtp-pass"
TIMEOUT = 2.0


@pytest.fixture
def raw_smtp(tls_materials: TlsMaterials) -> Iterator[Callable[[Callable[[Conversation], None]], RawSmtpServer]]:
    servers: list[RawSmtpServer] = []

    def make(script: Callable[[Conversation], None]) -> RawSmtpServer:
        server = RawSmtpServer(tls_materials, script).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def eml(tmp_path: Path, body_bytes: int = 100, name: str = "m.eml") -> Path:
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
    body = line * max(1, body_bytes // len(line))
    path = tmp_path / name
    path.write_bytes(b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Referral\r\n"
                     b"Message-ID: <attack-1@example.org>\r\n\r\n" + body)
    return path


def add_account(tmp_path: Path, server: RawSmtpServer) -> Path:
    password = tmp_path / "password.txt"
    password.write_text(PASSWORD)
    code = main(["account", "add", "--email", "alice@example.org", "--smtp-host", server.host, "--smtp-port", str(server.port),
                 "--security", "tls", "--username", USER, "--password-file", str(password), "--cafile", str(server.cafile)])
    assert code == 0
    return password


def send_with_short_timeouts(message: Path):  # type: ignore[no-untyped-def]
    """Queue and send ``message`` as the CLI does, with every timeout at 2 s; (result, seconds)."""
    stores = services.Stores.open()
    item = services.queue_message(stores, message, None)

    def session(account, password):  # type: ignore[no-untyped-def]
        smtp = SmtpSession(account, password, timeout=TIMEOUT)
        smtp.final_reply_timeout = TIMEOUT
        return smtp

    started = time.monotonic()
    results = drain(stores.outbox, stores.accounts, services.password_source(stores, lambda _a: PASSWORD.encode()),
                    ids=[item.id], session_factory=session)
    assert len(results) == 1
    return results[0], time.monotonic() - started


# -- the scripts: each misbehaves at exactly one step ----------------------------------------------

def never_greets(c: Conversation) -> None:
    c.stall()


def greets_with_garbage(c: Conversation) -> None:
    c.send(b"SSH-2.0-OpenSSH_9.2\r\n")
    c.stall()


def stalls_mid_data(c: Conversation) -> None:
    assert c.through_rcpt(c.opening()).upper() == "DATA"
    c.send("354 Go ahead")
    c.read_bytes(64 * 1024)
    c.stall()  # stops reading: the client's socket buffer fills and its send blocks


def stalls_after_the_dot(c: Conversation) -> None:
    c.through_data(c.opening())
    c.stall()


def drops_after_mail_from(c: Conversation) -> None:
    c.opening()
    c.send("250 2.1.0 OK")
    c.drop()


def garbage_to_mail_from(c: Conversation) -> None:
    c.opening()
    c.send("HTTP/1.1 400 Bad Request")
    c.stall()


def garbage_after_the_dot(c: Conversation) -> None:
    c.through_data(c.opening())
    c.send(b"\x00\xff\xfe\x1b[31m not smtp\r\n")
    c.stall()


def endless_reply_after_the_dot(c: Conversation) -> None:
    c.through_data(c.opening())
    while True:  # "250-" forever: a reply that never ends must never count as 250
        c.send(b"250-still going\r\n" * 64)


def flood_without_newline(c: Conversation) -> None:
    c.through_data(c.opening())
    while True:
        c.send(b"2" * 65536)


def says_250_to_data(c: Conversation) -> None:
    assert c.through_rcpt(c.opening()).upper() == "DATA"
    c.send("250 OK")  # 354 belongs here: the server is confused, nothing was sent
    c.stall()


def accepts_rcpt_then_refuses_data(c: Conversation) -> None:
    assert c.through_rcpt(c.opening()).upper() == "DATA"
    c.send("554 5.7.1 Relaying denied after all")
    c.serve_rest()


def accepts_rcpt_then_defers_data(c: Conversation) -> None:
    assert c.through_rcpt(c.opening()).upper() == "DATA"
    c.send("451 4.3.0 Try again later")
    c.serve_rest()


def rejects_after_the_dot(c: Conversation) -> None:
    c.through_data(c.opening())
    c.send("552 5.3.4 Message size exceeds fixed limit")
    c.serve_rest()


def answers_354_after_the_dot(c: Conversation) -> None:
    c.through_data(c.opening())
    c.send("354 Go ahead")
    c.stall()


def announces_a_tiny_size(c: Conversation) -> None:
    first = c.opening(ehlo=("AUTH PLAIN LOGIN", "SIZE 1000"))
    c.send("250 OK")  # would accept, but the client must not even try
    while True:
        first = c.command()
        c.send("221 Bye" if first.upper() == "QUIT" else "250 OK")
        if first.upper() == "QUIT":
            raise Closed


def behaves(c: Conversation) -> None:
    first = c.opening()
    c.through_data(first)
    c.send("250 2.0.0 Accepted as <q1>")
    c.serve_rest()


CASES = [
    # script, state, words the user reads, complete messages the server received, big message
    (never_greets, "queued", "Cannot reach the mail server", 0, False),
    (greets_with_garbage, "queued", "Cannot reach the mail server", 0, False),
    (stalls_mid_data, "queued", "broke while the message was being sent (no answer or progress for 2 seconds). Nothing was delivered", 0, True),
    (stalls_after_the_dot, "queued", "did not confirm the message after receiving all of it (no answer or progress for 2 seconds)", 1, False),
    (drops_after_mail_from, "queued", "broke before the message was sent (the server closed the connection). Nothing was delivered", 0, False),
    (garbage_to_mail_from, "queued", "did not speak SMTP properly (it answered 'HTTP/1.1 400 Bad Request', which is not SMTP). Nothing was delivered", 0, False),
    (garbage_after_the_dot, "queued", "did not confirm the message after receiving all of it (it answered '????[31m not smtp', which is not SMTP)", 1, False),
    (endless_reply_after_the_dot, "queued", "its answer went on for more than 100 lines", 1, False),
    (flood_without_newline, "queued", "a line longer than 2048 bytes", 1, False),
    (says_250_to_data, "queued", "did not speak SMTP properly (it answered '250 OK', where 354 belongs)", 0, False),
    (accepts_rcpt_then_refuses_data, "failed", "The mail server rejected the message: 554 5.7.1 Relaying denied after all", 0, False),
    (accepts_rcpt_then_defers_data, "queued", "did not take the message for now: 451 4.3.0 Try again later. It will be tried again", 0, False),
    (rejects_after_the_dot, "failed", "The mail server rejected the message: 552 5.3.4 Message size exceeds fixed limit", 1, False),
    (answers_354_after_the_dot, "queued", "(it answered '354 Go ahead', which is not an answer to a message)", 1, False),
    (announces_a_tiny_size, "failed", "this mail server accepts at most 1 KB", 0, False),
]


@pytest.mark.parametrize(("script", "state", "words", "received", "big"), CASES, ids=[c[0].__name__ for c in CASES])
def test_misbehaving_server(raw_smtp, tmp_path: Path, script, state: str, words: str, received: int, big: bool) -> None:  # type: ignore[no-untyped-def]
    server = raw_smtp(script)
    add_account(tmp_path, server)
    message = eml(tmp_path, 24_000_000 if big else 2_000)
    result, seconds = send_with_short_timeouts(message)
    assert words in result.message, result.message
    assert seconds < 4 * TIMEOUT + 3  # never hangs: every wait is bounded
    (item,) = services.Stores.open().outbox.items()
    assert item.state == state and result.item.state == state
    assert len(server.messages) == received
    if state == "queued":
        assert item.next_attempt is not None  # tried again later, with backoff
    if state == "failed":
        assert item.last_reply  # the server's words (or the size limit) are kept
    if script is announces_a_tiny_size:
        assert not any(cmd.upper().startswith(("MAIL", "DATA")) for cmd in server.commands)


@pytest.mark.parametrize("script", [drops_after_mail_from, stalls_after_the_dot, garbage_after_the_dot, accepts_rcpt_then_defers_data],
                         ids=lambda s: s.__name__)
def test_a_waiting_message_is_delivered_once_the_server_behaves(raw_smtp, tmp_path: Path, script) -> None:  # type: ignore[no-untyped-def]
    server = raw_smtp(script)
    add_account(tmp_path, server)
    message = eml(tmp_path)
    result, _ = send_with_short_timeouts(message)
    assert result.item.state == "queued"
    before = len(server.messages)
    server.script = behaves
    code = main(["outbox", "retry", "--password-file", str(tmp_path / "password.txt")])
    assert code == 0
    assert server.messages[before:] == [message.read_bytes()]  # byte-identical: the same Message-ID
    assert services.Stores.open().outbox.items()[0].state == "sent"


def test_send_exits_4_and_says_what_happened(raw_smtp, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    server = raw_smtp(drops_after_mail_from)
    password = add_account(tmp_path, server)
    capsys.readouterr()
    code = main(["send", str(eml(tmp_path)), "--password-file", str(password)])
    out = capsys.readouterr().out
    assert code == 4
    assert "Queued as" in out and "Nothing was delivered; it will be tried again" in out
    assert services.Stores.open().outbox.items()[0].state == "queued"


def test_lying_server_failure_exits_4_with_the_servers_words(raw_smtp, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    server = raw_smtp(accepts_rcpt_then_refuses_data)
    password = add_account(tmp_path, server)
    capsys.readouterr()
    code = main(["send", str(eml(tmp_path)), "--password-file", str(password)])
    assert code == 4
    assert "554 5.7.1 Relaying denied after all" in capsys.readouterr().out
    code = main(["outbox", "retry", "--password-file", str(password)])  # a failed message is not retried by itself
    assert code == 0 and server.messages == []
