"""The assembled main window: every tab present, drops routed, the assistant on first start."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QWizard

from smimehelper.gui.main_window import MainWindow
from tests.core.helpers import compose


def _drop(window: MainWindow, paths: list[Path]) -> None:
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def test_tabs_and_first_run_assistant_without_identity(qtbot, ctx) -> None:  # type: ignore[no-untyped-def]
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    titles = [window.tabs.tabText(i).replace("&", "") for i in range(window.tabs.count())]
    assert titles == ["Compose", "Open message", "Contacts", "My certificates", "Outbox", "Log", "Inbox"]
    window.start()
    qtbot.waitUntil(lambda: any(isinstance(w, QWizard) and w.isVisible() for w in window.findChildren(QWizard)), timeout=5000)


def test_dropped_message_opens_and_dropped_files_attach(qtbot, ctx, pki_home, pki, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ctx, "identity_passphrase", lambda _parent: b"test-pass")  # instead of the modal dialog
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    message = tmp_path / "from-bob.eml"
    compose(pki, message, sender="bob", to=("alice",))
    xray = tmp_path / "xray.dcm"
    xray.write_bytes(b"\0" * 128 + b"DICM" + b"x" * 100)
    _drop(window, [message])
    assert window.tabs.currentWidget() is window.opener
    qtbot.waitUntil(lambda: window.opener.opened is not None, timeout=20000)
    assert window.opener.opened.decrypted and window.opener.opened.all_good
    _drop(window, [xray])
    assert window.tabs.currentWidget() is window.compose
    qtbot.waitUntil(lambda: len(window.compose.attachments()) == 1, timeout=10000)
