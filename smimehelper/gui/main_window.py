"""The main window: Compose, Open, Contacts, My certificates, Outbox, Log and Inbox, one tab each.

A dropped .eml opens in the Open tab; other dropped files become attachments in Compose. With
no certificate imported yet, the first-run assistant comes first.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QTabWidget

from .compose import ComposeView
from .contacts_view import ContactsView
from .context import GuiContext
from .first_run import FirstRunWizard
from .identity_view import IdentityView
from .inbox_view import InboxView
from .log_view import LogView
from .open_view import OpenView
from .outbox_view import OutboxView
from .style import app_icon


class MainWindow(QMainWindow):
    def __init__(self, ctx: GuiContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle("smimehelper - encrypted mail for clinicians")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.tabs = QTabWidget()
        self.compose = ComposeView(ctx)
        self.opener = OpenView(ctx)
        self.contacts = ContactsView(ctx)
        self.identities = IdentityView(ctx)
        self.outbox = OutboxView(ctx)
        self.log = LogView(ctx)
        self.inbox = InboxView(ctx, self.opener)
        self.inbox.shown.connect(lambda _result: self.tabs.setCurrentWidget(self.opener))
        for widget, title, tip in (
            (self.compose, "&Compose", "Write a signed and encrypted message with x-rays or other files"),
            (self.opener, "&Open message", "Open a message you received: who signed it, and its files"),
            (self.contacts, "Co&ntacts", "Your colleagues' certificates"),
            (self.identities, "&My certificates", "Your own certificate"),
            (self.outbox, "Out&box", "Messages waiting, sent or failed"),
            (self.log, "Lo&g", "Every transfer recorded: search by patient, export a patient's disclosures"),
            (self.inbox, "&Inbox", "The signed and encrypted messages in your mailbox: open them with one click"),
        ):
            index = self.tabs.addTab(widget, title)
            self.tabs.setTabToolTip(index, tip)
        self.tabs.currentChanged.connect(self._refresh_current)
        self.setCentralWidget(self.tabs)
        self._menus()
        self.statusBar().showMessage("Ready")
        self.resize(1000, 720)

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open message...", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._choose_message)
        file_menu.addAction(open_action)
        setup = QAction("First-run &assistant...", self)
        setup.triggered.connect(self.show_first_run)
        file_menu.addAction(setup)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About smimehelper", self)
        about.triggered.connect(lambda: QMessageBox.about(
            self, "About smimehelper",
            "smimehelper sends x-rays and patient files signed and encrypted (S/MIME), readable "
            "in Outlook, Thunderbird and Apple Mail without add-ons."))
        help_menu.addAction(about)

    def _refresh_current(self, _index: int) -> None:
        widget = self.tabs.currentWidget()
        refresh = getattr(widget, "refresh", None)
        if callable(refresh):
            refresh()

    def _choose_message(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open message", "", "E-mail messages (*.eml);;All files (*)")
        if path:
            self.open_message(Path(path))

    def open_message(self, path: Path) -> None:
        self.tabs.setCurrentWidget(self.opener)
        self.opener.open_file(path)

    def show_first_run(self) -> None:
        wizard = FirstRunWizard(self.ctx, self)
        wizard.finished.connect(lambda _result: self._after_first_run())
        wizard.open()

    def _after_first_run(self) -> None:
        for view in (self.compose, self.identities, self.contacts, self.outbox):
            refresh = getattr(view, "refresh", None)
            if callable(refresh):
                refresh()

    def start(self) -> None:
        """Show the window; with no certificate yet, lead the user through the assistant."""
        self.show()
        if not self.ctx.stores().identities.list():
            QTimer.singleShot(0, self.show_first_run)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt naming)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        messages = [p for p in paths if p.suffix.lower() == ".eml"]
        others = [p for p in paths if p.suffix.lower() != ".eml"]
        if messages:
            self.open_message(messages[0])
        if others:
            self.tabs.setCurrentWidget(self.compose)
            self.compose.add_attachments(others)
        event.acceptProposedAction()
