"""The outbox: what is waiting, sent or failed, what happens next, and (in the details pane,
:mod:`.outbox_details`) the mail server's whole answer and the history, in local time.

Retry sends on a worker thread (one connection per account); the account password is asked
first, on the GUI thread, only for accounts whose password is not in the system keyring (and
kept in memory for this session). While the window is open, waiting messages whose next try
has come are sent again by themselves, as a mail server does, for accounts whose password is
at hand: never a question out of nowhere. The CLI and other windows may send at the same
time; each message's lock (core/transport/outbox.py) makes sure it goes out once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .. import services
from ..core.errors import UserError
from ..core.transport.delivery import Delivered
from ..core.transport.outbox import QUEUED, SENDING, SENT, OutboxItem
from .context import GuiContext
from .outbox_details import COLUMNS, STATE_COLOURS, STATE_WORDS, OutboxDetails, row_texts
from .widgets import CAUTION, GOOD, INFO, PROBLEM, Banner, alive, plain_label, visible
from .style import icon

ITEM_ROLE = Qt.ItemDataRole.UserRole + 1
AUTO_RETRY_MS = 60_000


class OutboxView(QWidget):
    """The "Outbox" tab.

    Public API: ``refresh()``, ``items()`` (the OutboxItems shown, in table order),
    ``select_ids(ids)``, ``selected_items()``, ``retry_selected()``, ``retry_all()``,
    ``remove_selected()``, ``is_busy()``, ``table``, ``banner``; signals ``delivered(list)``
    (the Delivered results of a retry) and ``failed(str)``.
    """

    delivered = Signal(list)
    failed = Signal(str)

    def __init__(self, ctx: GuiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._busy = 0
        self._items: list[OutboxItem] = []
        self._passwords: dict[str, bytes | None] = {}  # given in this session; memory only
        self._build()
        self.refresh()
        self.auto_timer = QTimer(self)
        self.auto_timer.setInterval(AUTO_RETRY_MS)
        self.auto_timer.timeout.connect(self.send_due)
        self.auto_timer.start()

    def _build(self) -> None:
        self.retry_button = self._button("send", "Re&try selected", "Try again now to send the selected messages (also failed ones)", self.retry_selected)
        self.retry_all_button = self._button("send", "Send all &waiting", "Try now to send every message that is waiting", self.retry_all)
        self.remove_button = self._button("", "&Remove", "Remove the selected messages from the outbox (Delete)", self.remove_selected)
        self.refresh_button = self._button("outbox", "Re&fresh", "Show the current state of the outbox", self.refresh)
        top = QHBoxLayout()
        for button in (self.retry_button, self.retry_all_button, self.remove_button):
            top.addWidget(button)
        top.addStretch(1)
        top.addWidget(self.refresh_button)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setAccessibleName("Outbox messages")
        self.table.setToolTip("Messages waiting to be sent, sent, or failed; select one to see what happened to it")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((150, 180, 200, 130)):
            self.table.setColumnWidth(column, width)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemSelectionChanged.connect(self._show_details)
        self.details = OutboxDetails()

        self.empty = plain_label("The outbox is empty.", selectable=False)
        self.empty.setAccessibleName("Outbox state")
        self.banner = Banner(name="Status")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.banner)
        delete = QShortcut(QKeySequence.StandardKey.Delete, self.table)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.remove_selected)

    def _button(self, icon_name: str, text: str, tip: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(icon(icon_name), text)
        button.setToolTip(tip)
        button.setAccessibleName(text.replace("&", ""))
        button.clicked.connect(lambda _checked=False: slot())
        return button

    # -- listing --------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        return self._busy > 0

    def refresh(self) -> None:
        keep = {i.id for i in self.selected_items()}
        try:
            items = self.ctx.stores().outbox.items()
        except UserError as exc:
            self.banner.show_message(str(exc), PROBLEM)
            return
        items.sort(key=lambda i: i.created, reverse=True)
        self._items = items
        self.table.setRowCount(len(items))
        now = dt.datetime.now(dt.timezone.utc)  # the outbox keeps wall-clock times (core/transport/outbox.py)
        for row, item in enumerate(items):
            for column, text in enumerate(row_texts(item, now)):
                cell = QTableWidgetItem(visible(text))
                cell.setData(ITEM_ROLE, item.id)
                cell.setToolTip(visible(text))
                self.table.setItem(row, column, cell)
            self.table.item(row, 0).setForeground(QBrush(QColor(STATE_COLOURS.get(item.state, "#3c4a5c"))))
        self.empty.setVisible(not items)
        self.details.setVisible(bool(items))
        self.select_ids(keep)
        self._update_buttons()
        self._show_details()

    def _show_details(self) -> None:
        chosen = self.selected_items()
        self.details.show_item(chosen[0] if len(chosen) == 1 else None)

    def items(self) -> list[OutboxItem]:
        return list(self._items)

    def select_ids(self, ids: Sequence[str] | set[str]) -> None:
        wanted = set(ids)
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for row, item in enumerate(self._items):
            if item.id in wanted:
                self.table.selectRow(row)
        self.table.setSelectionMode(mode)

    def selected_items(self) -> list[OutboxItem]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()}) if self.table.selectionModel() else []
        return [self._items[r] for r in rows if r < len(self._items)]

    def _update_buttons(self) -> None:
        chosen = self.selected_items()
        idle = not self.is_busy()
        self.retry_button.setEnabled(idle and any(i.state not in (SENT, SENDING) for i in chosen))
        self.retry_all_button.setEnabled(idle and any(i.state == QUEUED for i in self._items))
        self.remove_button.setEnabled(idle and bool(chosen))

    # -- sending --------------------------------------------------------------------------------
    def retry_selected(self) -> None:
        """Send the selected messages now, failed ones included (sent ones are left alone)."""
        self._send([i for i in self.selected_items() if i.state not in (SENT, SENDING)])

    def retry_all(self) -> None:
        """Send every waiting message now (failed ones only when selected: see Retry selected)."""
        self._send([i for i in self._items if i.state == QUEUED])

    def send_due(self) -> None:
        """Send again what waits for its next try (backoff over), in the background, for the
        accounts whose password is in the keyring or was given in this session, or that are
        signed in with their provider (never a question, never a browser out of nowhere)."""
        if self.is_busy() or not alive(self):
            return
        try:
            stores = self.ctx.stores()
            due = [i for i in stores.outbox.due() if i.attempts > 0]
            ready = [i for i in due if self._can_log_in(stores, i.account)]
        except UserError:
            return
        if ready:
            self._send(ready)

    def _can_log_in(self, stores: services.Stores, email: str) -> bool:
        if email in self._passwords:
            return True
        account = stores.accounts.get(email)
        if account.uses_oauth:
            return stores.accounts.tokens.refresh_token(account.email) is not None
        return stores.accounts.password(account) is not None

    def _send(self, items: list[OutboxItem]) -> None:
        if not items:
            self.banner.show_message("Nothing is waiting to be sent.", INFO)
            return
        stores = self.ctx.stores()
        passwords = self._passwords
        asked_now: set[str] = set()  # kept for the session only if it proved right (a message went out)
        try:
            for email in dict.fromkeys(i.account for i in items if i.account not in passwords):  # not given yet
                account = stores.accounts.get(email)
                if account.uses_oauth or stores.accounts.password(account) is not None:
                    continue  # a signed-in account never gets a password (its sign-in is used)
                asked = self.ctx.ask_secret(
                    self, "Mail account password",
                    f"Password for {account.username} at {account.smtp_host} (leave empty if the server needs none):")
                if asked is None:
                    self.banner.show_message("Nothing was sent: no password was given.", CAUTION)
                    return
                passwords[account.email] = asked or None
                asked_now.add(account.email)
        except UserError as exc:
            self.banner.show_message(str(exc), PROBLEM)
            return
        ctx = self.ctx

        def work(_control: Any) -> list[Delivered]:
            return services.send_messages(ctx.stores(), items, lambda account: passwords.get(account.email))  # keyring first

        def forget_unproven(results: list[Delivered]) -> None:
            for email in asked_now:
                if not any(d.item.account == email and d.item.state == SENT for d in results):
                    passwords.pop(email, None)

        def done(results: list[Delivered]) -> None:
            forget_unproven(results)
            self.refresh()
            if not results:
                self.banner.show_message("Nothing was sent: the messages were no longer waiting.", INFO)
            else:
                lines = [visible(f"{d.item.subject or d.item.id}: {d.message}") for d in results]
                if all(d.item.state == SENT for d in results):
                    level = GOOD
                elif all(d.item.state in (SENT, QUEUED) for d in results):
                    level = CAUTION  # still waiting: tried again later
                else:
                    level = PROBLEM
                self.banner.show_message("\n".join(lines), level)
            self.delivered.emit(results)

        def failed(message: str) -> None:
            forget_unproven([])
            self.refresh()
            self.banner.show_message(f"Sending failed: {message}", PROBLEM)
            self.failed.emit(message)

        self.banner.show_message(f"Sending {len(items)} message{'s' if len(items) != 1 else ''} ...", INFO)
        self._start(work, done, failed)

    def remove_selected(self) -> None:
        chosen = self.selected_items()
        if not chosen:
            return
        what = f"“{visible(chosen[0].subject)}”" if len(chosen) == 1 else f"{len(chosen)} messages"
        unsent = [i for i in chosen if i.state != SENT]
        warning = "\n\nIt has not been sent; it will not be." if len(chosen) == 1 and unsent else (
            "\n\nSome of them have not been sent; they will not be." if unsent else "")
        answer = QMessageBox.question(
            self, "Remove from the outbox", f"Remove {what} from the outbox?{warning}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        outbox = self.ctx.stores().outbox
        problems = []
        for item in chosen:
            try:
                outbox.remove(item.id)
            except UserError as exc:
                problems.append(str(exc))
        self.refresh()
        if problems:
            self.banner.show_message("\n".join(problems), PROBLEM)
        else:
            self.banner.show_message(f"Removed {what} from the outbox.", GOOD)

    def _start(self, work: Callable[[Any], Any], done: Callable[[Any], None], error: Callable[[str], None]) -> None:
        self._busy += 1
        self._update_buttons()

        def finish() -> bool:
            if not alive(self):
                return False
            self._busy -= 1
            self._update_buttons()
            return True

        self.ctx.tasks.run(
            work,
            on_done=lambda result: finish() and done(result),
            on_error=lambda message: finish() and error(message),
        )


__all__ = ["OutboxView", "STATE_WORDS"]
