"""The attachments of an opened message: thumbnail, name, type in words, size, Save.

The types are the ones the content shows (a DICOM file sent as application/octet-stream is
still a "DICOM image (x-ray)"); the MIME type and the SHA-256 are in the tooltip. Thumbnails
are made on the task runner while the message is opened (:func:`look_at_attachments`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QPushButton, QStyle, QTableWidget, QTableWidgetItem, QWidget

from ..core.display import human_size
from .thumbnails import DICOM, thumbnail
from .widgets import visible
from .words import type_name

if TYPE_CHECKING:
    from ..core.reader import OpenedMessage, ReceivedAttachment

THUMBNAIL_SIDE = 56
THUMBNAIL_MESSAGE_LIMIT = 512 * 1024 * 1024
"""Thumbnails need the files on disk for a moment (a private folder, removed at once): above
this message size the list shows type icons only, so a huge study opens without a second copy."""


@dataclass(frozen=True)
class Looked:
    """What the content of one attachment showed: its real type and a thumbnail."""

    content_type: str
    image: QImage | None


def look_at_attachments(opened: OpenedMessage) -> dict[int, Looked]:
    """Sniff and thumbnail the saved attachments (on the task runner; files stay where they are)."""
    from ..core.mime.sniff import sniff_file

    found: dict[int, Looked] = {}
    for index, attachment in enumerate(opened.attachments):
        path = attachment.saved_to
        if path is None:
            continue
        try:
            sniffed = sniff_file(path)
        except OSError:
            continue
        declared = attachment.content_type.split(";", 1)[0].strip().lower()
        kind = sniffed if declared in ("application/octet-stream", "") or sniffed == DICOM else declared
        found[index] = Looked(kind, thumbnail(Path(path), kind, THUMBNAIL_SIDE))
    return found


class AttachmentsTable(QTableWidget):
    """The table of files; ``save_requested(row)`` through the Save buttons and double-click."""

    def __init__(self, on_save: Callable[[int], None], parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        self._on_save = on_save
        self.setHorizontalHeaderLabels(["File", "Type", "Size", ""])
        self.setAccessibleName("Attachments")
        self.setToolTip("The files in this message. Select one and press Enter, or use Save..., to save it")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setIconSize(QSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.doubleClicked.connect(lambda index: self._on_save(index.row()))

    def clear_files(self) -> None:
        self.setRowCount(0)

    def fill(self, opened: OpenedMessage, looked: dict[int, Looked]) -> None:
        self._fill_rows([(a, "") for a in opened.attachments], looked)

    def fill_study(self, files: Sequence[tuple[ReceivedAttachment, int]], parts: int, looked: dict[int, Looked]) -> None:
        """The files of a study sent in several messages: (file, the part it came in)."""
        self._fill_rows([(a, f"in part {part} of {parts}") for a, part in files], looked)

    def _fill_rows(self, rows: Sequence[tuple[ReceivedAttachment, str]], looked: dict[int, Looked]) -> None:
        self.setRowCount(len(rows))
        generic = self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon)
        for row, (attachment, where) in enumerate(rows):
            name = visible(attachment.filename)
            seen = looked.get(row)
            kind = seen.content_type if seen is not None else attachment.content_type
            words = type_name(kind)
            tip = (f"{name}\n{words} ({visible(kind)}"
                   + (f", sent as {visible(attachment.content_type)}" if kind != attachment.content_type else "")
                   + f"), {attachment.size} bytes" + (f", {where}" if where else "") + f"\nSHA-256 {attachment.sha256}")
            cells = (name, words, human_size(attachment.size))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                self.setItem(row, column, item)
            image = seen.image if seen is not None else None
            self.item(row, 0).setIcon(QIcon(QPixmap.fromImage(image)) if image is not None else generic)
            self.item(row, 0).setData(Qt.ItemDataRole.UserRole, image is not None)
            button = QPushButton("Save...")
            button.setToolTip(f"Save {name} into a folder you choose")
            button.setAccessibleName(f"Save {name}")
            button.clicked.connect(lambda _checked=False, row=row: self._on_save(row))
            self.setCellWidget(row, 3, button)
        if looked and any(v.image is not None for v in looked.values()):
            self.verticalHeader().setDefaultSectionSize(THUMBNAIL_SIDE + 6)
        if rows:
            self.selectRow(0)

    def has_thumbnail(self, row: int) -> bool:
        item = self.item(row, 0)
        return bool(item is not None and item.data(Qt.ItemDataRole.UserRole))


__all__ = ["AttachmentsTable", "Looked", "THUMBNAIL_MESSAGE_LIMIT", "look_at_attachments"]
