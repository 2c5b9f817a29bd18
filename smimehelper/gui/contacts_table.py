"""The contacts table: one row per stored certificate, nothing cut off that tells them apart.

Name and e-mail columns take the room their text needs; the fingerprint is shown in groups of
four (as compared on the phone), whole. Files dropped on the table are offered for import.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ..core.certs import describe
from .cert_words import STATUS_WORDS, issuer_text
from .style import STATUS_COLOURS
from .widgets import visible
from .words import local_date

if TYPE_CHECKING:
    from .. import services
    from ..core.contacts import ContactCert

COLUMNS = ("Name", "E-Mail", "Status", "Issued by", "Valid until", "Fingerprint (SHA-256)")
ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the ContactRow (or ContactCert while checking)
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2  # the status code, e.g. "valid"
NAME, EMAIL, STATUS, ISSUER, UNTIL, FINGERPRINT = range(len(COLUMNS))
MAX_COLUMN = 360  # a name longer than this wraps into the tooltip, never pushes the rest away


def status_words(code: str, entry: ContactCert | None) -> str:
    words = STATUS_WORDS.get(code, code)
    if code == "valid" and entry is not None and entry.trusted_directly:
        return "Valid (you trust this certificate)"
    return words


def row_items(entry: ContactCert, row: services.ContactRow | None) -> list[QStandardItem]:
    info = describe(entry.cert)
    code = row.status.status.value if row is not None else "checking"
    reason = (row.status.reason if row is not None else None) or ""
    words = status_words(code, entry)
    grouped = " ".join(info.fingerprint_sha256.replace(":", "")[i:i + 4] for i in range(0, 64, 4))
    cells = [visible(info.display_name), visible(entry.email), words, visible(issuer_text(entry.cert)),
             local_date(info.not_after), grouped]
    items = [QStandardItem(text) for text in cells]
    for item in items:
        item.setData(row if row is not None else entry, ROW_ROLE)
        item.setData(code, STATUS_ROLE)
        item.setEditable(False)
        item.setToolTip(item.text())
    items[STATUS].setToolTip(visible(reason) or words)
    items[ISSUER].setToolTip(visible(info.issuer))
    items[FINGERPRINT].setToolTip(info.fingerprint_sha256)
    if code in STATUS_COLOURS:
        items[STATUS].setForeground(QBrush(QColor(STATUS_COLOURS[code])))
    return items


class ContactTable(QTableView):
    """The contacts table; files dropped on it are offered for import."""

    files_dropped = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalHeader().hide()
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)

    def fit_columns(self) -> None:
        """Every column as wide as its text (names and addresses are what people look for)."""
        for column in range(FINGERPRINT):
            self.resizeColumnToContents(column)
            if self.columnWidth(column) > MAX_COLUMN:
                self.setColumnWidth(column, MAX_COLUMN)
        self.resizeColumnToContents(FINGERPRINT)

    def _paths(self, event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[Path]:
        data = event.mimeData()
        if not data.hasUrls():
            return []
        return [Path(u.toLocalFile()) for u in data.urls() if u.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt naming)
        if self._paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if self._paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = self._paths(event)
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)
        else:
            event.ignore()


def new_model(parent: QWidget) -> QStandardItemModel:
    model = QStandardItemModel(0, len(COLUMNS), parent)
    model.setHorizontalHeaderLabels(list(COLUMNS))
    return model


__all__ = ["COLUMNS", "ContactTable", "ROW_ROLE", "STATUS_ROLE", "new_model", "row_items", "status_words"]
