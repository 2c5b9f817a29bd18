"""The app's Outbox and the CLI share one lock per message: "Send all waiting" in the window
while three `smimehelper outbox retry` processes run on the same outbox delivers each message
exactly once (counted by Message-ID at a real aiosmtpd server)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from smimehelper import services
from smimehelper.core.transport.accounts import make_account
from smimehelper.gui.context import GuiContext
from smimehelper.gui.open_view import GOOD
from smimehelper.gui.outbox_view import OutboxView
from tests.core.helpers import compose
from tests.pki.make_pki import Pki
from tests.transport.conftest import tls_materials  # noqa: F401 (fixture)
from tests.transport.fault_servers import FaultSmtpServer, message_id
from tests.transport.servers import SMTP_PASSWORD, SMTP_USER


def test_window_and_cli_retries_deliver_each_message_once(qtbot, ctx: GuiContext, pki_home: services.Stores, pki: Pki,  # type: ignore[no-untyped-def]
                                                          tmp_path: Path, tls_materials, monkeypatch) -> None:  # noqa: F811
    server = FaultSmtpServer(tls_materials, "starttls", data_delay=0.3).start()
    try:
        stores = pki_home
        stores.accounts.add(make_account("alice@example.org", smtp_host=server.host, smtp_port=server.port, security="starttls",
                                         username=SMTP_USER, cafile=str(server.cafile)), None)
        expected = []
        for n in range(8):
            message = tmp_path / f"m{n}.eml"
            compose(pki, message, subject=f"Referral {n}")
            expected.append(message_id(message.read_bytes()))
            services.queue_message(stores, message, None, append_to_sent=False)
        password = tmp_path / "password.txt"
        password.write_text(SMTP_PASSWORD)
        monkeypatch.setattr(ctx, "ask_secret", lambda *_a: SMTP_PASSWORD.encode())
        view = OutboxView(ctx)
        qtbot.addWidget(view)
        view.show()
        assert os.environ["SMIMEHELPER_HOME"] == str(ctx.home)  # the processes use the same outbox
        cli = [subprocess.Popen([sys.executable, "-m", "smimehelper.cli.main", "outbox", "retry", "--password-file", str(password)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
               for _ in range(3)]
        qtbot.waitUntil(lambda: len(server.received) >= 1, timeout=60_000)  # the CLI is busy sending ...
        assert view.retry_all_button.isEnabled()  # ... and the window still lists what it saw waiting
        with qtbot.waitSignal(view.delivered, timeout=180_000) as signal:
            view.retry_all_button.click()
        outputs = [p.communicate(timeout=180) for p in cli]
        assert [p.returncode for p in cli] == [0, 0, 0], outputs
        assert server.message_ids() == Counter({mid: 1 for mid in expected})
        assert len(server.sessions) >= 2  # they really sent side by side (each connects only when it has a message)
        assert Counter(i.state for i in stores.outbox.items()) == Counter({"sent": 8})
        assert all(d.item.state == "sent" for d in signal.args[0])  # the window's report: sent here or elsewhere
        assert view.banner.level == GOOD, view.banner.text()
    finally:
        for process in locals().get("cli", []):
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=30)
        server.stop()


def test_the_window_sends_waiting_messages_again_by_itself(qtbot, ctx: GuiContext, pki_home: services.Stores, pki: Pki,  # type: ignore[no-untyped-def]
                                                             tmp_path: Path, tls_materials, monkeypatch) -> None:  # noqa: F811
    """Backoff, as a mail server does: a message that met a 451 is sent again by the open window
    once its next try has come, without asking anything (the password is in the keyring); an
    account whose password is not at hand is left alone (no question out of nowhere)."""
    import keyring

    from smimehelper.core.transport.outbox import QUEUED
    from tests.memory_keyring import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())
    server = FaultSmtpServer(tls_materials, "tempfail", tempfail_count=1).start()
    try:
        stores = services.Stores.open(ctx.home)
        account = make_account("alice@example.org", smtp_host=server.host, smtp_port=server.port, security="starttls",
                               username=SMTP_USER, cafile=str(server.cafile))
        assert stores.accounts.add(account, SMTP_PASSWORD.encode())  # in the (test) keyring
        message = tmp_path / "m.eml"
        compose(pki, message, subject="Referral")
        item = services.queue_message(stores, message, None, append_to_sent=False)
        (first,) = services.send_messages(stores, [item], None)
        assert first.item.state == QUEUED and first.item.next_attempt  # 451: waits a minute
        monkeypatch.setattr(ctx, "ask_secret", lambda *_a: pytest.fail("asked for a password"))
        view = OutboxView(ctx)
        qtbot.addWidget(view)
        assert view.auto_timer.isActive() and view.auto_timer.interval() == 60_000
        view.send_due()  # not due yet: nothing happens
        assert not view.is_busy() and len(server.received) == 0
        stores.outbox.mark(stores.outbox.load(item.id), QUEUED, note="the backoff is over")  # type: ignore[arg-type]
        view.auto_timer.setInterval(50)
        with qtbot.waitSignal(view.delivered, timeout=60_000):
            pass
        assert [message_id(m.data) for m in server.received] == [message_id(message.read_bytes())]
        assert stores.outbox.load(item.id).state == "sent"  # type: ignore[union-attr]
        # Without a password at hand: not touched.
        stores.accounts.add(account, None)
        keyring.set_keyring(MemoryKeyring())
        other = services.queue_message(stores, message, None, append_to_sent=False)
        stores.outbox.mark(stores.outbox.mark(other, "sending"), QUEUED, note="tried once")
        view.send_due()
        assert not view.is_busy() and stores.outbox.load(other.id).state == QUEUED  # type: ignore[union-attr]
    finally:
        server.stop()
