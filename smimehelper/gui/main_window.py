"""The main window: Compose, Open, Contacts, My certificates, Outbox, Log and Inbox, one tab each.

A dropped .eml opens in the Open tab (several: the parts of a study, put back together); other
dropped files become attachments in Compose. With
no certificate imported yet, the first-run assistant comes first.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox, QTabWidget, QWidget

from .context import GuiContext
from .style import app_icon

# (attribute, tab title, tooltip, module, class): a tab's view is made the first time it is shown
# (or asked for), so the window appears without loading what only other tabs need.
TABS = (
    ("compose", "&Compose", "Write a signed and encrypted message with x-rays or other files", ".compose", "ComposeView"),
    ("opener", "&Open message", "Open a message you received: who signed it, and its files", ".open_view", "OpenView"),
    ("contacts", "Co&ntacts", "Your colleagues' certificates", ".contacts_view", "ContactsView"),
    ("identities", "&My certificates", "Your own certificate", ".identity_view", "IdentityView"),
    ("outbox", "Out&box", "Messages waiting, sent or failed", ".outbox_view", "OutboxView"),
    ("log", "Lo&g", "Every transfer recorded: search by patient, export a patient's disclosures", ".log_view", "LogView"),
    ("inbox", "&Inbox", "The signed and encrypted messages in your mailbox: open them with one click", ".inbox_view", "InboxView"),
)


class MainWindow(QMainWindow):
    def __init__(self, ctx: GuiContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle("smimehelper - encrypted mail for clinicians")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.tabs = QTabWidget()
        self._views: dict[str, QWidget] = {}
        self._placeholders: dict[str, QWidget] = {}
        for name, title, tip, _module, _cls in TABS:
            placeholder = self._placeholders[name] = QWidget()
            index = self.tabs.addTab(placeholder, title)
            self.tabs.setTabToolTip(index, tip)
        self.view("compose")  # the first tab
        self.tabs.currentChanged.connect(self._refresh_current)
        self.setCentralWidget(self.tabs)
        self._menus()
        self.statusBar().showMessage("Ready")
        self.resize(1000, 720)

    # -- the tabs' views, made when first needed ------------------------------------------------
    def view(self, name: str) -> Any:
        """The tab's view, made (and put in place of its placeholder) the first time."""
        if name not in self._views:
            _name, title, tip, module, cls = next(t for t in TABS if t[0] == name)
            factory = getattr(importlib.import_module(module, __package__), cls)
            if name == "inbox":
                widget = factory(self.ctx, self.view("opener"))
                widget.shown.connect(lambda _result: self.tabs.setCurrentWidget(self.view("opener")))
            else:
                widget = factory(self.ctx)
            self._views[name] = widget
            placeholder = self._placeholders.pop(name)
            index = self.tabs.indexOf(placeholder)
            current = self.tabs.currentIndex()
            self.tabs.blockSignals(True)
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, widget, title)
            self.tabs.setTabToolTip(index, tip)
            self.tabs.setCurrentIndex(current)
            self.tabs.blockSignals(False)
            placeholder.deleteLater()
        return self._views[name]

    def built(self, name: str) -> bool:
        return name in self._views

    compose = property(lambda self: self.view("compose"))
    opener = property(lambda self: self.view("opener"))
    contacts = property(lambda self: self.view("contacts"))
    identities = property(lambda self: self.view("identities"))
    outbox = property(lambda self: self.view("outbox"))
    log = property(lambda self: self.view("log"))
    inbox = property(lambda self: self.view("inbox"))

    def show_tab(self, name: str) -> None:
        self.tabs.setCurrentWidget(self.view(name))

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
        waiting = next((n for n, p in self._placeholders.items() if p is widget), None)
        if waiting is not None:
            self.view(waiting)  # new: it has just read everything itself
            return
        refresh = getattr(widget, "refresh", None)
        if callable(refresh):
            refresh()

    def _choose_message(self) -> None:
        self.show_tab("opener")
        self.opener.choose_file()  # one message, or all parts of a study

    def open_message(self, path: Path) -> None:
        self.show_tab("opener")
        self.opener.open_file(path)

    def show_first_run(self) -> None:
        from .first_run import FirstRunWizard

        wizard = FirstRunWizard(self.ctx, self)
        wizard.finished.connect(lambda _result: self._after_first_run())
        wizard.open()

    def _after_first_run(self) -> None:
        for name in ("compose", "identities", "contacts", "outbox"):
            if not self.built(name):
                continue  # made later, it reads the new state itself
            refresh = getattr(self.view(name), "refresh", None)
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
        if messages:  # several: the parts of a study sent in several messages
            self.show_tab("opener")
            self.opener.open_files(messages)
        if others:
            self.show_tab("compose")
            self.compose.add_attachments(others)
        event.acceptProposedAction()
