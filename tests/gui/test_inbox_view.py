"""The Inbox tab against the real Dovecot: the secure messages listed with their verdicts, one
click opens a message into the "Open message" tab (same verdict, same Save), its private copy is
removed when another message replaces it, Cancel stops a fetch and leaves the message unread."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from smimehelper import services
from smimehelper.core.transport.accounts import make_account
from smimehelper.gui.main_window import MainWindow
from smimehelper.gui.open_view import GOOD, PROBLEM
from tests.core.helpers import compose
from tests.pki.make_pki import Pki
from tests.transport.conftest import clean_dovecot, dovecot, tls_materials  # noqa: F401 (fixtures: the real Dovecot)
from tests.transport.inbox_helpers import TcpProxy, append_bytes, append_file, stored_flags
from tests.transport.servers import IMAP_PASSWORD, DovecotServer

PLAIN = b"From: a@example.org\r\nSubject: lunch\r\nContent-Type: text/plain\r\n\r\nNoon?\r\n"


@pytest.fixture
def messages(pki: Pki, tmp_path: Path) -> dict[str, Path]:
    xray = tmp_path / "xray.bin"
    xray.write_bytes(os.urandom(200_000))
    good = tmp_path / "good.eml"
    compose(pki, good, sender="bob", to=("alice",), attachments=(xray,), subject="Your patient's x-ray")
    other = tmp_path / "other.eml"
    compose(pki, other, sender="bob", to=("carol",), subject="Not for you")
    return {"good": good, "other": other, "xray": xray}


def setup_window(qtbot, ctx, pki_home: services.Stores, server: DovecotServer, monkeypatch, *, port: int | None = None,  # type: ignore[no-untyped-def]
                 host: str | None = None) -> MainWindow:
    account = make_account("alice@example.org", smtp_host="127.0.0.1", username=server.user, cafile=str(server.cafile),
                           imap_host=host or server.host, imap_port=port or server.port, imap_security="starttls")
    pki_home.accounts.add(account, None)
    asked: list[str] = []

    def ask_secret(_parent, _title, prompt):  # type: ignore[no-untyped-def]
        asked.append(prompt)
        return IMAP_PASSWORD.encode()

    monkeypatch.setattr(ctx, "ask_secret", ask_secret)
    monkeypatch.setattr(ctx, "identity_passphrase", lambda _parent: b"test-pass")
    window = MainWindow(ctx)
    window.asked = asked  # type: ignore[attr-defined]
    qtbot.addWidget(window)
    return window


def test_inbox_lists_opens_into_the_open_tab_and_saves(qtbot, ctx, settle, pki_home, clean_dovecot: DovecotServer,  # type: ignore[no-untyped-def]
                                                       messages: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    append_bytes(clean_dovecot, "INBOX", PLAIN)
    append_file(clean_dovecot, "INBOX", messages["other"])
    append_file(clean_dovecot, "INBOX", messages["good"])
    window = setup_window(qtbot, ctx, pki_home, clean_dovecot, monkeypatch)
    inbox = window.inbox
    window.tabs.setCurrentWidget(inbox)  # the first visit lists the mailbox
    settle()
    assert [r.message.subject for r in inbox.rows()] == ["Your patient's x-ray", "Not for you"]  # newest first, no plain mail
    assert inbox.table.item(0, 5).text() == "New" and inbox.table.item(0, 4).text() == "Encrypted"
    assert len(window.asked) == 1 and "dentist@example.org" in window.asked[0]  # the password, asked once

    inbox.open_row(0)
    settle()
    assert window.tabs.currentWidget() is window.opener
    opener = window.opener
    assert opener.opened is not None and opener.opened.all_good
    assert opener.verdict_banner.level == GOOD and "Everything checks out" in opener.verdict_banner.text()
    assert "Your patient's x-ray" in opener.file_label.text() and "INBOX of alice@example.org" in opener.file_label.text()
    copy = opener.path
    assert copy is not None and copy.read_bytes() == messages["good"].read_bytes()
    assert copy.stat().st_mode & 0o777 == 0o600 and copy.parent.stat().st_mode & 0o777 == 0o700
    assert inbox.table.item(0, 5).text() == "Opened: valid and trusted"
    assert stored_flags(clean_dovecot, "INBOX") == [frozenset(), frozenset(), frozenset({"\\Seen"})]

    # "Save all" works on the fetched copy exactly as on a message file
    target = tmp_path / "saved"
    target.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: str(target))
    opener.save_all()
    settle()
    assert (target / "xray.bin").read_bytes() == messages["xray"].read_bytes()

    # The message not encrypted for alice: a problem verdict; the first copy is gone now
    inbox.open_row(1)
    settle()
    assert opener.verdict_banner.level == PROBLEM and not opener.opened.decrypted
    assert not copy.exists() and not copy.parent.exists()
    assert inbox.table.item(1, 5).text() == "Opened: could not be decrypted"
    second = opener.path
    opener.open_file(messages["good"])  # a file replaces it: its copy is removed too
    settle()
    assert not second.exists() and opener.opened.all_good
    assert len(window.asked) == 1  # the password was asked once for the session

    # Next time the list shows the verdicts remembered
    inbox.reload()
    settle()
    assert [inbox.table.item(i, 5).text() for i in range(2)] == ["Opened: valid and trusted", "Opened: could not be decrypted"]


def test_cancel_stops_the_fetch(qtbot, ctx, settle, pki_home, clean_dovecot: DovecotServer, pki: Pki, tmp_path: Path,  # type: ignore[no-untyped-def]
                                monkeypatch) -> None:
    scan = tmp_path / "scan.bin"
    scan.write_bytes(os.urandom(4_000_000))
    big = tmp_path / "big.eml"
    compose(pki, big, sender="bob", to=("alice",), attachments=(scan,), subject="Large study")
    append_file(clean_dovecot, "INBOX", big)
    with TcpProxy((clean_dovecot.host, clean_dovecot.port), rate=1_000_000) as proxy:
        window = setup_window(qtbot, ctx, pki_home, clean_dovecot, monkeypatch, host="127.0.0.1", port=proxy.port)
        inbox = window.inbox
        window.tabs.setCurrentWidget(inbox)
        settle()
        assert len(inbox.rows()) == 1
        inbox.open_row(0)
        qtbot.waitUntil(lambda: inbox.progress.value() > 0, timeout=30_000)
        assert not inbox.cancel_button.isHidden() and not inbox.open_button.isEnabled()
        inbox.cancel()
        settle()
    assert "Cancelled" in inbox.banner.text() and "stays unread" in inbox.banner.text()
    assert window.opener.opened is None and window.tabs.currentWidget() is inbox
    assert inbox.cancel_button.isHidden() and inbox.open_button.isEnabled()
    assert stored_flags(clean_dovecot, "INBOX") == [frozenset()]


def test_no_imap_account_says_what_to_do(qtbot, ctx, pki_home) -> None:  # type: ignore[no-untyped-def]
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.tabs.setCurrentWidget(window.inbox)
    assert "No mail account with an IMAP server" in window.inbox.empty.text()
    assert not window.inbox.refresh_button.isEnabled()


def test_wrong_password_is_a_clear_problem_and_asked_again(qtbot, ctx, settle, pki_home, clean_dovecot: DovecotServer,  # type: ignore[no-untyped-def]
                                                           monkeypatch) -> None:
    window = setup_window(qtbot, ctx, pki_home, clean_dovecot, monkeypatch)
    answers = iter([b"wrong", IMAP_PASSWORD.encode()])
    monkeypatch.setattr(ctx, "ask_secret", lambda *_a: next(answers))
    window.tabs.setCurrentWidget(window.inbox)
    settle()
    assert window.inbox.banner.level == PROBLEM and "refused the login" in window.inbox.banner.text()
    window.inbox.reload()
    settle()
    assert window.inbox.banner.isHidden() and window.inbox.rows() == []
    assert "No signed or encrypted messages in INBOX" in window.inbox.empty.text()


def test_folders_dialog_chooses_the_folders_shown(qtbot, ctx, settle, pki_home, clean_dovecot: DovecotServer,  # type: ignore[no-untyped-def]
                                                  messages: dict[str, Path], monkeypatch) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDialog

    from smimehelper.gui.inbox_folders import FolderDialog
    from tests.transport.servers import imap_connect

    with imap_connect(clean_dovecot) as conn:
        assert conn.create('"Referrals"')[0] == "OK"
    append_file(clean_dovecot, "Referrals", messages["good"])
    window = setup_window(qtbot, ctx, pki_home, clean_dovecot, monkeypatch)
    inbox = window.inbox
    window.tabs.setCurrentWidget(inbox)
    settle()
    assert inbox.rows() == [] and "No signed or encrypted messages in INBOX" in inbox.empty.text()
    offered: list[list[str]] = []

    def exec_(dialog: FolderDialog) -> int:  # the user ticks Referrals and presses OK
        items = [dialog.list.item(i) for i in range(dialog.list.count())]
        offered.append([item.text() for item in items])
        for item in items:
            if item.text() == "Referrals":
                item.setCheckState(Qt.CheckState.Checked)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(FolderDialog, "exec", exec_)
    inbox.choose_folders()
    settle()
    assert offered and offered[0][0] == "INBOX" and "Referrals" in offered[0]
    assert [(r.message.folder, r.message.subject) for r in inbox.rows()] == [("Referrals", "Your patient's x-ray")]
    assert inbox.table.item(0, 6).text() == "Referrals"
