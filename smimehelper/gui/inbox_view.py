"""The Inbox tab: the signed and encrypted messages of the user's mailbox, opened with one click.

The list comes from the mail server (only headers and structures are read); opening a message
fetches it in chunks on a worker thread, with progress and Cancel, and shows it in the "Open
message" tab exactly like a message file. Its copy (0600, in a private temporary folder) is
removed as soon as another message is shown there, or when the app quits. The account password
(when the system keyring does not hold it) and the certificate passphrase are asked first, on
the GUI thread, and kept only in memory for this session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.display import human_size
from ..core.errors import PassphraseError, UserError
from ..core.transport.accounts import Account
from .context import GuiContext
from .inbox_folders import FolderDialog
from .open_view import CAUTION, GOOD, INFO, LEVEL_COLOURS, PROBLEM, Banner, OpenView, alive, plain_label, visible
from .style import icon

COLUMNS = ("Received", "From", "Subject", "Size", "Kind", "Verdict", "Folder")
KIND_WORDS = {"encrypted": "Encrypted", "signed": "Signed", "signed-or-encrypted": "Signed or encrypted"}
ROW_ROLE = Qt.ItemDataRole.UserRole + 1
PROGRESS_STEPS = 1000


class InboxView(QWidget):
    """The "Inbox" tab.

    Public API: ``refresh()`` (lists once, on first show), ``reload()``, ``rows()`` (the
    services.inbox.InboxRow shown, in table order), ``open_row(index)``, ``open_selected()``,
    ``cancel()``, ``choose_folders()``, ``is_busy()``, ``table``, ``banner``; signals ``shown(object)``
    (the services.inbox.InboxOpened now in the Open tab) and ``failed(str)``.
    """

    shown = Signal(object)
    failed = Signal(str)

    def __init__(self, ctx: GuiContext, opener: OpenView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.opener = ctx, opener
        self._rows: list[Any] = []
        self._passwords: dict[str, bytes] = {}  # asked this session (no keyring), memory only
        self._loaded = False
        self._busy = 0
        self._control: Any = None  # the TaskControl of an opening, for Cancel
        self._current: Any = None  # the InboxOpened shown in the Open tab
        self._build()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._quitting)

    # -- layout ----------------------------------------------------------------------------------
    def _build(self) -> None:
        self.account_box = QComboBox()
        self.account_box.setAccessibleName("Mail account")
        self.account_box.setToolTip("Whose mailbox to show")
        self.account_box.currentIndexChanged.connect(lambda _i: self._loaded and self.reload())
        self.refresh_button = self._button("outbox", "Re&fresh", "Ask the mail server for the secure messages again", self.reload)
        self.open_button = self._button("open", "&Open", "Open the selected message (Enter or double-click)", self.open_selected)
        self.folders_button = self._button("", "Fol&ders...", "Choose which folders of your mailbox to show", self.choose_folders)
        self.cancel_button = self._button("", "&Cancel", "Stop fetching the message; it stays unread on the server", self.cancel)
        self.cancel_button.hide()
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setMaximumWidth(220)
        self.progress.setAccessibleName("Fetching the message")
        self.progress.hide()
        top = QHBoxLayout()
        top.addWidget(self.account_box)
        for widget in (self.refresh_button, self.open_button, self.folders_button):
            top.addWidget(widget)
        top.addStretch(1)
        top.addWidget(self.progress)
        top.addWidget(self.cancel_button)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setAccessibleName("Secure messages")
        self.table.setToolTip("The signed and encrypted messages of your mailbox, newest first. Double-click one to open it")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for column, width in enumerate((130, 200, 240, 80, 110, 170)):
            if column != 2:
                self.table.setColumnWidth(column, width)
        self.table.doubleClicked.connect(lambda index: self.open_row(index.row()))
        self.table.itemSelectionChanged.connect(self._update_buttons)
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shortcut = QShortcut(QKeySequence(key), self.table)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(self.open_selected)

        self.empty = plain_label("Press Refresh to see the signed and encrypted messages of your mailbox.", selectable=False)
        self.empty.setAccessibleName("Inbox state")
        self.banner = Banner(name="Status")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.banner)
        self._update_buttons()

    def _button(self, icon_name: str, text: str, tip: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(icon(icon_name), text)
        button.setToolTip(tip)
        button.setAccessibleName(text.replace("&", "").rstrip("."))
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def _update_buttons(self) -> None:
        idle = self._busy == 0
        self.refresh_button.setEnabled(idle and self.account_box.count() > 0)
        self.folders_button.setEnabled(idle and self.account_box.count() > 0)
        self.open_button.setEnabled(idle and self.table.currentRow() >= 0 and bool(self._rows))

    # -- accounts and passwords ----------------------------------------------------------------
    def _accounts(self) -> list[Account]:
        return [a for a in self.ctx.stores().accounts.list() if a.imap_host]

    def _fill_accounts(self) -> None:
        current = self.account_box.currentData()
        self.account_box.blockSignals(True)
        self.account_box.clear()
        for account in self._accounts():
            self.account_box.addItem(account.email, account.email)
        if current is not None and self.account_box.findData(current) >= 0:
            self.account_box.setCurrentIndex(self.account_box.findData(current))
        self.account_box.setVisible(self.account_box.count() > 1)
        self.account_box.blockSignals(False)

    def account(self) -> Account | None:
        email = self.account_box.currentData()
        return next((a for a in self._accounts() if a.email == email), None)

    def _password(self, account: Account) -> bytes | None | bool:
        """The password to use (None: the keyring has it, or the account signs in with its
        provider and its sign-in is used), or False when the user cancelled."""
        if account.uses_oauth or self.ctx.stores().accounts.password(account) is not None:
            return None
        if account.email not in self._passwords:
            asked = self.ctx.ask_secret(self, "Mail account password", f"Password for {account.username} at {account.imap_host}:")
            if asked is None:
                return False
            self._passwords[account.email] = asked
        return self._passwords[account.email]

    def _forget_password_if_refused(self, account: Account, message: str) -> None:
        if "refused the login" in message:
            self._passwords.pop(account.email, None)

    # -- listing --------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        return self._busy > 0

    def rows(self) -> list[Any]:
        return list(self._rows)

    def refresh(self) -> None:
        """Called when the tab is shown: the first time, ask the server for the list."""
        self._fill_accounts()
        if not self._loaded and self.account_box.count():
            self.reload()
        elif not self.account_box.count():
            self.empty.setText("No mail account with an IMAP server is set up. Add one in the first-run assistant "
                               "(File > First-run assistant) or with 'smimehelper account add'.")
        self._update_buttons()

    def reload(self) -> None:
        self._fill_accounts()
        account = self.account()
        if account is None or self._busy:
            return
        password = self._password(account)
        if password is False:
            self.banner.show_message("The list was not loaded: no password was given.", CAUTION)
            return
        self._loaded = True
        ctx = self.ctx

        def work(_control: Any) -> Any:
            from ..services import inbox

            return inbox.list_inbox(ctx.stores(), account.email, lambda _a: password or None)

        def done(listing: Any) -> None:
            self._show_rows(list(listing.rows), listing.folders)
            self.banner.clear()

        def failed(message: str) -> None:
            self._forget_password_if_refused(account, message)
            self.banner.show_message(f"The secure messages could not be listed: {message}", PROBLEM)
            self.failed.emit(message)

        self.banner.show_message(f"Asking {visible(account.imap_host or '')} for the secure messages ...", INFO)
        self._start(work, done, failed)

    def _show_rows(self, rows: list[Any], folders: tuple[str, ...]) -> None:
        self._rows = rows
        table = self.table
        table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            self._fill_row(index, row.message, row.verdict.level if row.verdict else None,
                           row.verdict.summary if row.verdict else None)
        where = ", ".join(visible(f) for f in folders)
        self.empty.setText(f"No signed or encrypted messages in {where}." if not rows else "")
        self.empty.setVisible(not rows)
        if rows:
            table.selectRow(0)
        self._update_buttons()

    def _fill_row(self, index: int, message: Any, level: str | None, summary: str | None) -> None:
        received = message.received.astimezone().strftime("%Y-%m-%d %H:%M") if message.received else ""
        verdict = f"Opened: {summary}" if summary else ("Read" if message.seen else "New")
        cells = (received, visible(message.sender) or "(none)", visible(message.subject) or "(no subject)",
                 human_size(message.size), KIND_WORDS.get(message.kind, message.kind), verdict, visible(message.folder))
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setData(ROW_ROLE, index)
            item.setToolTip(f"{visible(message.subject)}\nFrom {visible(message.sender)}\n{message.size} bytes, "
                            f"message {message.uid} in {visible(message.folder)}")
            if column == 5 and level is not None:
                item.setForeground(QBrush(QColor(LEVEL_COLOURS.get(level, LEVEL_COLOURS[INFO]))))
            if not message.seen and not summary:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.table.setItem(index, column, item)

    # -- opening --------------------------------------------------------------------------------
    def open_selected(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.open_row(row)

    def open_row(self, index: int) -> None:
        """Fetch message ``index`` of the list and show it in the Open tab."""
        if self._busy or not 0 <= index < len(self._rows):
            return
        account = self.account()
        if account is None:
            return
        message = self._rows[index].message
        password = self._password(account)
        if password is False:
            self.banner.show_message("The message was not opened: no password was given.", CAUTION)
            return
        passphrase = self.ctx.identity_passphrase(self)
        if passphrase is None:
            self.banner.show_message("The message was not opened: no passphrase was given.", CAUTION)
            return
        ctx = self.ctx

        def ask_passphrase(_prompt: str) -> bytes:
            if not passphrase:
                raise PassphraseError("The passphrase for your certificate is needed; open the message again and give it.")
            return passphrase

        def work(control: Any) -> Any:
            from ..services import inbox

            return inbox.open_inbox_message(
                ctx.stores(),
                inbox.InboxOpenInput(uid=message.uid, folder=message.folder, account=account.email, uidvalidity=message.uidvalidity),
                lambda _a: password or None, ask_passphrase,
                progress=control.progress, cancelled=control.cancelled, keep=True,
            )

        def done(result: Any) -> None:
            if not alive(self.opener):
                result.close()
                return
            self._fill_row(index, message, result.level, result.summary)
            self._current = result
            title = f"{visible(message.subject) or '(no subject)'}  ({visible(message.folder)} of {visible(account.email)})"
            self.opener.show_opened(result.path, result.opened, passphrase, title=title,
                                    on_release=lambda: self._release(result))
            if result.marked_read:
                self.banner.clear()
            else:
                self.banner.show_message(f"Opened, but not marked as read on the server: {result.mark_problem}", CAUTION)
            self.shown.emit(result)

        def failed(text: str) -> None:
            self._forget_password_if_refused(account, text)
            level = CAUTION if text.startswith("Cancelled.") else PROBLEM
            self.banner.show_message(f"{visible(message.subject) or 'The message'} was not opened: {text}", level)
            self.failed.emit(text)

        self.banner.show_message(f"Fetching {visible(message.subject) or 'the message'} ({human_size(message.size)}) ...", INFO)
        self.progress.setValue(0)
        self._control = self._start(work, done, failed, progress=True)

    def cancel(self) -> None:
        if self._control is not None:
            self._control.cancel()
            self.banner.show_message("Cancelling ...", INFO)

    def _release(self, result: Any) -> None:
        result.close()
        if self._current is result:
            self._current = None

    def _release_current(self) -> None:
        if self._current is not None:
            self._release(self._current)

    def _quitting(self) -> None:
        """The app quits: stop a fetch (its copy is removed by its own cleanup) and remove the copy shown."""
        self.cancel()
        self._release_current()

    # -- folders --------------------------------------------------------------------------------
    def choose_folders(self) -> None:
        account = self.account()
        if account is None or self._busy:
            return
        password = self._password(account)
        if password is False:
            return
        ctx = self.ctx

        def work(_control: Any) -> Any:
            from ..services import inbox

            stores = ctx.stores()
            return inbox.server_folders(stores, account.email, lambda _a: password or None), inbox.chosen_folders(stores, account)

        def done(found: Any) -> None:
            folders, chosen = found
            dialog = FolderDialog([f.name for f in folders if f.selectable], chosen, self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            from ..services import inbox

            try:
                inbox.choose_folders(ctx.stores(), account, dialog.chosen())
            except UserError as exc:
                self.banner.show_message(str(exc), PROBLEM)
                return
            self.reload()

        def failed(message: str) -> None:
            self._forget_password_if_refused(account, message)
            self.banner.show_message(f"The folders could not be listed: {message}", PROBLEM)
            self.failed.emit(message)

        self._start(work, done, failed)

    # -- tasks ------------------------------------------------------------------------------------
    def _start(self, work: Callable[[Any], Any], done: Callable[[Any], None], error: Callable[[str], None],
               *, progress: bool = False) -> Any:
        self._busy += 1
        self._update_buttons()
        self.progress.setVisible(progress)
        self.cancel_button.setVisible(progress)

        def finish() -> bool:
            if not alive(self):
                return False
            self._busy -= 1
            self._control = None
            self.progress.hide()
            self.cancel_button.hide()
            self._update_buttons()
            return True

        def on_progress(done_bytes: int, total: int) -> None:
            if alive(self) and total:
                self.progress.setValue(int(done_bytes * PROGRESS_STEPS / total))

        def on_done(result: Any) -> None:
            if finish():
                done(result)
            elif hasattr(result, "close"):
                result.close()  # the view is gone: remove the fetched copy at once

        return self.ctx.tasks.run(
            work,
            on_done=on_done,
            on_error=lambda message: finish() and error(message),
            on_progress=on_progress if progress else None,
        )


__all__ = ["InboxView", "GOOD", "PROBLEM", "CAUTION"]
