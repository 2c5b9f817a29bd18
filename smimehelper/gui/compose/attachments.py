"""The attachment panel of Compose: the files to send with their type, size and thumbnail.

Files are looked at (type by content, thumbnail, patient identifiers of DICOM files) on the task
runner, so adding a 500 MB study does not freeze the window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from ...core.display import human_size
from ...core.mime.sniff import sniff_file
from ..style import icon
from ..tasks import TaskRunner
from ..thumbnails import thumbnail
from ..words import type_name
from .texts import RED, THUMBNAIL_SIZE


@dataclass
class Attachment:
    path: Path
    size: int
    content_type: str | None = None  # None until the file was looked at
    identifiers: tuple[str, ...] = ()  # patient name, ID, birth date of a DICOM file
    item: QTreeWidgetItem | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Inspected:
    path: Path
    content_type: str
    image: QImage | None
    identifiers: tuple[str, ...]


def inspect_file(path: Path) -> Inspected:
    """Type, thumbnail and patient identifiers of one file (runs on the task runner)."""
    try:
        content_type = sniff_file(path)
    except OSError:
        return Inspected(path, "unreadable", None, ())
    image = thumbnail(path, content_type, THUMBNAIL_SIZE)
    identifiers = ()
    if content_type == "application/dicom":
        from ...core.dicom import patient_identifiers  # pydicom: only when a DICOM file is attached

        identifiers = patient_identifiers(path)
    return Inspected(path, content_type, image, identifiers)


def expand_paths(paths: Sequence[Path], problems: list[str]) -> list[Path]:
    """Files as given, and every file inside a given folder (hidden ones left out)."""
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            found.append(path)
        else:
            problems.append(f"{path.name or path} does not exist or is not a file.")
    return found


class AttachmentPanel(QGroupBox):
    """The files of the message; ``changed`` after files come, go or have been looked at,
    ``problem(text)`` when some could not be attached."""

    changed = Signal()
    problem = Signal(str)

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__("Attachments", parent)
        self._tasks = tasks
        self._attachments: list[Attachment] = []
        self._busy = False
        layout = QVBoxLayout(self)
        hint = QLabel("Drop x-rays and other files (or whole folders) anywhere here, or click Add files.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Name", "Size", "Type"])
        self.tree.setRootIsDecorated(False)
        self.tree.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setAccessibleName("Attached files")
        self.tree.setToolTip("The files sent with the message (encrypted). Del removes the selected ones.")
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        files_label = QLabel("Files to sen&d:")
        files_label.setBuddy(self.tree)
        layout.addWidget(files_label)
        layout.addWidget(self.tree, 1)
        remove_shortcut = QShortcut(QKeySequence.StandardKey.Delete, self.tree)
        remove_shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        remove_shortcut.activated.connect(self.remove_selected)
        row = QHBoxLayout()
        self.add_button = QPushButton("&Add files...")
        self.add_button.setToolTip("Choose x-rays, DICOM files, photos or documents to send")
        self.add_button.setAccessibleName("Add files")
        self.add_button.clicked.connect(self.choose_files)
        self.remove_button = QPushButton("&Remove")
        self.remove_button.setToolTip("Remove the selected files from the message (the files themselves stay)")
        self.remove_button.setAccessibleName("Remove selected files")
        self.remove_button.clicked.connect(self.remove_selected)
        self.remove_button.setEnabled(False)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        self.size_label = QLabel()
        self.size_label.setAccessibleName("Estimated message size")
        self.size_label.setWordWrap(True)
        self.size_label.setTextFormat(Qt.TextFormat.PlainText)
        self.size_label.setToolTip(
            "Encrypted mail is about 1.9 times the size of the files (two layers of base64 encoding). "
            "Mail servers refuse messages over their limit."
        )
        row.addWidget(self.size_label, 2)
        layout.addLayout(row)

    # -- what the view asks ------------------------------------------------------------------
    def paths(self) -> list[Path]:
        return [a.path for a in self._attachments]

    def get(self, path: Path) -> Attachment | None:
        return next((a for a in self._attachments if a.path == Path(path).resolve()), None)

    def total_bytes(self) -> int:
        return sum(a.size for a in self._attachments)

    def count(self) -> int:
        return len(self._attachments)

    def identifiers(self) -> tuple[str, ...]:
        """Patient identifiers found in the attached DICOM files (for the subject warning)."""
        return tuple(t for a in self._attachments for t in a.identifiers)

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.add_button.setEnabled(not busy)
        self._update_buttons()

    def show_size(self, text: str, over: bool) -> None:
        self.size_label.setText(text)
        self.size_label.setProperty("over", over)
        self.size_label.setStyleSheet(f"color: {RED}; font-weight: bold;" if over else "")

    # -- changes ------------------------------------------------------------------------------
    def add(self, paths: Sequence[Path]) -> None:
        """Attach files (folders: every file inside); their type and thumbnail follow shortly."""
        known = {a.path for a in self._attachments}
        added: list[Attachment] = []
        problems: list[str] = []
        for path in expand_paths(paths, problems):
            path = path.resolve()
            if path in known:
                continue
            try:
                size = path.stat().st_size
            except OSError as exc:
                problems.append(f"{path.name} cannot be read ({exc.strerror}).")
                continue
            attachment = Attachment(path, size)
            attachment.item = self._new_item(attachment)
            self._attachments.append(attachment)
            known.add(path)
            added.append(attachment)
        if problems:
            self.problem.emit("Not attached: " + " ".join(problems))
        self.changed.emit()
        if added:
            wanted = [a.path for a in added]
            self._tasks.run(
                lambda _control: [inspect_file(p) for p in wanted],
                on_done=self._guard(self._inspected),
                on_error=self._guard(self.problem.emit),
            )

    def remove(self, paths: Sequence[Path]) -> None:
        gone = {Path(p).resolve() for p in paths}
        for attachment in [a for a in self._attachments if a.path in gone]:
            self._attachments.remove(attachment)
            if attachment.item is not None:
                index = self.tree.indexOfTopLevelItem(attachment.item)
                if index >= 0:
                    self.tree.takeTopLevelItem(index)
        self.changed.emit()

    def remove_selected(self) -> None:
        if self._busy:
            return
        selected = {id(i) for i in self.tree.selectedItems()}
        self.remove([a.path for a in self._attachments if id(a.item) in selected])

    def choose_files(self) -> None:
        chosen, _filter = QFileDialog.getOpenFileNames(self, "Add files to the message", "", "All files (*)")
        if chosen:
            self.add([Path(p) for p in chosen])

    # -- internals ----------------------------------------------------------------------------
    def _guard(self, callback: Callable[..., None]) -> Callable[..., None]:
        def call(*args: Any) -> None:
            if isValid(self):
                callback(*args)

        return call

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.tree.selectedItems()) and not self._busy)

    def _new_item(self, attachment: Attachment) -> QTreeWidgetItem:
        item = QTreeWidgetItem([attachment.path.name, human_size(attachment.size), "checking..."])
        item.setIcon(0, self._generic_icon())
        item.setToolTip(0, str(attachment.path))
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.tree.addTopLevelItem(item)
        return item

    def _generic_icon(self) -> QIcon:
        themed = icon("file")
        return themed if not themed.isNull() else self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon)

    def _inspected(self, results: list[Inspected]) -> None:
        by_path = {a.path: a for a in self._attachments}
        for found in results:
            attachment = by_path.get(found.path)
            if attachment is None or attachment.item is None:
                continue  # removed meanwhile
            attachment.content_type = found.content_type
            attachment.identifiers = found.identifiers
            name = "Cannot be read" if found.content_type == "unreadable" else type_name(found.content_type)
            attachment.item.setText(2, name)
            attachment.item.setToolTip(2, found.content_type)
            if found.image is not None:
                attachment.item.setIcon(0, QIcon(QPixmap.fromImage(found.image)))
        self.changed.emit()
