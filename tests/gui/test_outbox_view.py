"""The Outbox tab end to end: the real outbox, real SMTP servers on the loopback interface."""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from smimehelper import services
from smimehelper.core.transport.accounts import make_account
from smimehelper.gui.context import GuiContext
from smimehelper.gui.widgets import CAUTION, GOOD
from smimehelper.gui.outbox_view import OutboxView
from tests.core.helpers import compose
from tests.gui.view_fixtures import PASS, answer as _answer, gui_ctx, home, stores  # noqa: F401 (fixtures)
from tests.pki.make_pki import Pki
from tests.transport.conftest import smtp_server_factory, tls_materials  # noqa: F401 (fixtures)
from tests.transport.servers import SMTP_PASSWORD, SMTP_USER

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


# -- outbox -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _queue(stores: services.Stores, pki: Pki, tmp_path: Path, port: int, cafile: Path | None = None):  # type: ignore[no-untyped-def]
    account = make_account("alice@example.org", smtp_host="127.0.0.1", smtp_port=port, security="starttls",
                           username=SMTP_USER, cafile=str(cafile) if cafile else None)
    stores.accounts.add(account, None)
    message = tmp_path / "referral.eml"
    compose(pki, message, sender="alice", to=("bob",), subject="Referral Mr X")
    return services.queue_message(stores, message, None)


@pytest.fixture
def outbox(qtbot, gui_ctx: GuiContext) -> OutboxView:  # type: ignore[no-untyped-def]
    view = OutboxView(gui_ctx)
    qtbot.addWidget(view)
    view.show()
    return view


def test_outbox_lists_and_removes(outbox: OutboxView, stores: services.Stores, pki: Pki, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert outbox.empty.isVisibleTo(outbox)
    item = _queue(stores, pki, tmp_path, _free_port())
    outbox.refresh()
    assert not outbox.empty.isVisibleTo(outbox)
    table = outbox.table
    assert table.rowCount() == 1
    assert [table.item(0, c).text() for c in range(3)] == ["Waiting", "bob@example.org", "Referral Mr X"]
    assert table.item(0, 3).text().startswith("today ") or table.item(0, 3).text().startswith("yesterday ")
    assert table.item(0, 4).text() == "Sent when you press Send all waiting (or Retry selected)."
    assert item.id not in table.item(0, 0).toolTip()  # internal IDs only behind Details
    outbox.select_ids([item.id])
    assert [i.id for i in outbox.selected_items()] == [item.id]
    details = outbox.details
    assert details.labels["subject"].text() == "Referral Mr X"
    assert details.labels["history"].text().endswith("Waiting - put in the outbox")
    assert f"Outbox ID: {item.id}" in details.technical.text()
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    outbox.remove_button.click()
    assert "Referral Mr X" in asked[0]
    assert stores.outbox.items() == []
    assert table.rowCount() == 0


def test_retry_against_an_unreachable_server_keeps_it_waiting(qtbot, outbox: OutboxView, gui_ctx, stores: services.Stores, pki: Pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    item = _queue(stores, pki, tmp_path, _free_port())
    outbox.refresh()
    gui_ctx.answers[:] = [b""]  # no password: the server is not even reached
    with qtbot.waitSignal(outbox.delivered, timeout=60000):
        outbox.retry_all_button.click()
    assert gui_ctx.asked == [f"Password for {SMTP_USER} at 127.0.0.1 (leave empty if the server needs none):"]
    assert outbox.banner.level == CAUTION  # not sent yet, tried again later
    assert "Not sent yet: Cannot reach the mail server 127.0.0.1" in outbox.banner.text()
    (after,) = stores.outbox.items()
    assert after.id == item.id and after.state == "queued" and after.attempts == 1
    assert outbox.table.item(0, 0).text() == "Waiting"
    outbox.select_ids([item.id])
    reply = outbox.details.labels["reply"].text()
    assert reply.startswith("Cannot reach the mail server 127.0.0.1") and reply == after.last_reply  # whole, not cut
    upcoming = dt.datetime.fromisoformat(after.next_attempt).astimezone()
    assert outbox.table.item(0, 4).text().startswith((f"Next try today {upcoming:%H:%M} while smimehelper is open",
                                                      "Next try tomorrow"))  # local time, in the future
    assert "UTC" not in outbox.table.item(0, 4).text()


def test_retry_against_a_plaintext_server_shows_why_and_keeps_it(qtbot, outbox: OutboxView, gui_ctx, stores: services.Stores, pki: Pki, tmp_path: Path, smtp_server_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server = smtp_server_factory("plain")
    item = _queue(stores, pki, tmp_path, server.port)
    outbox.refresh()
    outbox.select_ids([item.id])
    gui_ctx.answers[:] = [SMTP_PASSWORD.encode()]
    with qtbot.waitSignal(outbox.delivered, timeout=60000):
        outbox.retry_button.click()
    assert "does not offer an encrypted connection" in outbox.banner.text()
    assert [i.state for i in stores.outbox.items()] == ["queued"]
    assert server.received == []
    assert outbox.table.rowCount() == 1


def test_retry_sends_through_a_starttls_server(qtbot, outbox: OutboxView, gui_ctx, stores: services.Stores, pki: Pki, tmp_path: Path, smtp_server_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server = smtp_server_factory("starttls")
    item = _queue(stores, pki, tmp_path, server.port, cafile=server.cafile)
    outbox.refresh()
    gui_ctx.answers[:] = [SMTP_PASSWORD.encode()]
    with qtbot.waitSignal(outbox.delivered, timeout=60000):
        outbox.retry_all_button.click()
    assert outbox.banner.level == GOOD, outbox.banner.text()
    assert stores.outbox.get(item.id).state == "sent"
    assert outbox.table.item(0, 0).text() == "Sent"
    assert len(server.received) == 1
    assert not outbox.retry_all_button.isEnabled()  # nothing waiting any more


def test_retry_with_a_cancelled_password_sends_nothing(outbox: OutboxView, gui_ctx, stores: services.Stores, pki: Pki, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _queue(stores, pki, tmp_path, _free_port())
    outbox.refresh()
    monkeypatch.setattr(gui_ctx, "ask_secret", lambda *_a: None)
    outbox.retry_all()
    assert not outbox.is_busy()
    assert "no password was given" in outbox.banner.text()
    assert [i.attempts for i in stores.outbox.items()] == [0]


def test_a_next_try_in_the_past_is_not_shown_as_a_time(outbox: OutboxView, stores: services.Stores, pki: Pki, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    item = _queue(stores, pki, tmp_path, _free_port())
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=3)).isoformat()
    stores.outbox._save(replace(item, next_attempt=past, attempts=1, last_reply="421 4.7.0 Try again later, closing connection " + "x" * 300))
    outbox.refresh()
    assert outbox.table.item(0, 4).text().startswith("Tried again within a minute while smimehelper is open")
    outbox.select_ids([item.id])
    assert outbox.details.labels["reply"].text().endswith("x" * 300)  # the whole server reply
    assert "Next try:" in outbox.details.technical.text() and "UTC" in outbox.details.technical.text()
