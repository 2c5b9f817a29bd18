"""`compose --send` and `send` as a user runs them: -o optional with --send (the outbox keeps the
message), exit 4 whenever a message was queued but not delivered, Ctrl-C and SIGTERM while
sending, `outbox retry --due` for a timer. Real aiosmtpd servers, real processes and signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from smimehelper import services
from tests.pki.make_pki import Pki
from tests.transport.fault_servers import FaultSmtpServer, message_id
from tests.transport.servers import TlsMaterials
from tests.transport.test_delivery import PASSWORD, add_account, outbox, setup  # noqa: F401 (fixture)


def test_compose_send_without_output_file_keeps_the_message_in_the_outbox(setup, smtp_server_factory, pki: Pki) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD)
    add_account(run, password, server)
    before = set(tmp_path.iterdir())
    code, out, err = run("compose", "--to", "bob@example.org", "--bcc", "carol@example.org", "--subject", "Referral",
                         "--body", "Hello\n", "--passphrase-file", str(pki.passphrase_file), "--send",
                         "--password-file", str(password), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["path"] is None and result["bcc_copies"][0]["path"] is None
    assert [s["state"] for s in result["sent"]] == ["sent", "sent"]
    assert set(tmp_path.iterdir()) == before  # nothing written beside the user's files
    stores = services.Stores.open()
    kept = {message_id(stores.outbox.message_path(i.id).read_bytes()) for i in stores.outbox.items()}
    assert {message_id(m.data) for m in server.received} == kept and len(kept) == 2
    assert result["message_id"] in kept
    assert not list(stores.outbox.folder.glob(".staging-*"))  # the build folder is gone


def test_compose_needs_an_output_file_or_send(setup, pki: Pki) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    run, _, _ = setup
    code, _, err = run("compose", "--to", "bob@example.org", "--subject", "s", "--body", "b", "--passphrase-file", str(pki.passphrase_file))
    assert code == 2 and "-o OUT.eml" in err and "--send" in err


def test_compose_send_without_an_account_stops_before_any_work(setup) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    run, _, _ = setup
    code, _, err = run("compose", "--to", "bob@example.org", "--subject", "s", "--body", "b", "--send")  # no passphrase asked
    assert code == 2 and "No mail account is set up" in err
    assert outbox(run) == []


def test_send_without_a_password_at_hand_is_queued_and_exits_4(setup, smtp_server_factory, pki: Pki) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD)
    add_account(run, password, server)  # no keyring here: the password is not stored
    message = tmp_path / "m.eml"
    assert run("compose", "--to", "bob@example.org", "--subject", "s", "--body", "b", "-o", str(message),
               "--passphrase-file", str(pki.passphrase_file))[0] == 0
    code, out, _ = run("send", str(message))  # no terminal to ask on, no --password-file
    assert code == 4
    assert "--password-file" in out and "waits in the outbox" in out
    (item,) = outbox(run)
    assert item["state"] == "queued" and item["attempts"] == 0
    assert server.received == []


def test_outbox_retry_due_waits_for_the_backoff(setup, smtp_server_factory, pki: Pki) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    run, password, tmp_path = setup
    server = smtp_server_factory("tempfail", password=PASSWORD, tempfail_count=1)
    add_account(run, password, server)
    message = tmp_path / "m.eml"
    assert run("compose", "--to", "bob@example.org", "--subject", "s", "--body", "b", "-o", str(message),
               "--passphrase-file", str(pki.passphrase_file))[0] == 0
    assert run("send", str(message), "--password-file", str(password))[0] == 4  # 451: waits a minute
    code, out, _ = run("outbox", "retry", "--due", "--password-file", str(password))
    assert code == 0 and "Nothing is waiting" in out and server.received == []
    code, out, _ = run("outbox", "retry", "--password-file", str(password))  # the user says: now
    assert code == 0 and len(server.received) == 1


@pytest.fixture
def held_server(tls_materials: TlsMaterials):  # type: ignore[no-untyped-def]
    server = FaultSmtpServer(tls_materials, "starttls", password=PASSWORD, hold_rcpt="bob@example.org")
    server.start()
    yield server
    server.release()
    server.stop()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupting_a_send_leaves_it_waiting_and_it_is_sent_once(setup, held_server: FaultSmtpServer, pki: Pki, signum: int) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    run, password, tmp_path = setup
    add_account(run, password, held_server)
    message = tmp_path / "m.eml"
    assert run("compose", "--to", "bob@example.org", "--subject", "s", "--body", "b", "-o", str(message),
               "--passphrase-file", str(pki.passphrase_file))[0] == 0
    # As from a terminal: Ctrl-C is not ignored (a test run in the background inherits SIG_IGN).
    process = subprocess.Popen([sys.executable, "-m", "smimehelper.cli.main", "send", str(message), "--password-file", str(password)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=dict(os.environ),
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert held_server.holding.wait(60), process.communicate(timeout=5)
        process.send_signal(signum)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    (item,) = outbox(run)
    if signum == signal.SIGINT:
        assert process.returncode == 130 and "waits in the outbox" in err and "Traceback" not in err
        assert item["state"] == "queued"
    else:  # dies at once; its lock goes with it, and "sending" with a free lock is recovered
        assert process.returncode in (-signal.SIGTERM, 130, 143)
        assert item["state"] in ("sending", "queued")
    held_server.hold_rcpt = None
    held_server.release()
    code, out, _ = run("outbox", "retry", "--password-file", str(password))
    assert code == 0, out
    assert [message_id(m.data) for m in held_server.received] == [message_id(message.read_bytes())]
    assert outbox(run)[0]["state"] == "sent"
