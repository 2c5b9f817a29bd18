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
from PySide6.QtGui import QIcon, QKeySequence, QPixmap, QShortcut
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
from ..style import icon
from ..tasks import TaskRunner
from ..words import type_name
from .inspect import FolderInspected, Inspected, expand_paths, inspect_file, inspect_folder
from .texts import RED, THUMBNAIL_SIZE


@dataclass
class Attachment:
    """One entry of the list: a file, or a folder that travels as one DICOM study."""

    path: Path
    size: int  # a study: its DICOM files together
    content_type: str | None = None  # None until the file was looked at
    identifiers: tuple[str, ...] = ()  # patient name, ID, birth date of a DICOM file
    item: QTreeWidgetItem | None = field(default=None, repr=False)
    folder: bool = False
    files: tuple[tuple[Path, int], ...] = ()  # a study: its DICOM files and their sizes
    others: tuple[Path, ...] = ()  # a study: files in the folder that are not sent
    compressible: tuple[Path, ...] = ()  # uncompressed DICOM images lossless compression would shrink

    @property
    def file_count(self) -> int:
        return len(self.files) if self.folder else 1

    def file_sizes(self) -> list[tuple[Path, int]]:
        """The files that travel, one by one (a study's when it is split over several messages)."""
        return list(self.files) if self.folder else [(self.path, self.size)]


STUDY_TYPE = "DICOM study"


def study_tooltip(attachment: Attachment) -> str:
    count = len(attachment.files)
    text = (f"{attachment.path}\n{count} DICOM file{'s' if count != 1 else ''} travel as one study archive (a ZIP "
            "with a DICOMDIR) that the colleague's viewer imports in one go.")
    if attachment.others:
        names = ", ".join(p.name for p in attachment.others[:5]) + (", ..." if len(attachment.others) > 5 else "")
        text += (f"\n{len(attachment.others)} other file{'s' if len(attachment.others) != 1 else ''} in the folder "
                 f"{'are' if len(attachment.others) != 1 else 'is'} not DICOM and not sent ({names}); add them separately if needed.")
    return text


class FileTree(QTreeWidget):
    """The list of files, as tall as its rows want (a few files: a short list), 3 to 8 rows."""

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt naming)
        hint = super().sizeHint()
        rows = min(max(self.topLevelItemCount(), 1), 8)
        height = self.header().sizeHint().height() + rows * (THUMBNAIL_SIZE + 6) + 2 * self.frameWidth() + 4
        return QSize(hint.width(), max(height, 3 * THUMBNAIL_SIZE // 2 + 40))


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
        hint = QLabel("Drop x-rays and other files anywhere here, or click Add files. A folder with DICOM files "
                      "(a study) travels as one study archive that the colleague's viewer imports in one go.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.tree = FileTree()
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
        self.folder_button = QPushButton("Add fo&lder...")
        self.folder_button.setToolTip("Choose a folder: its DICOM files travel as one study (a DICOMDIR in a ZIP)")
        self.folder_button.setAccessibleName("Add folder")
        self.folder_button.clicked.connect(self.choose_folder)
        self.remove_button = QPushButton("&Remove")
        self.remove_button.setToolTip("Remove the selected files from the message (the files themselves stay)")
        self.remove_button.setAccessibleName("Remove selected files")
        self.remove_button.clicked.connect(self.remove_selected)
        self.remove_button.setEnabled(False)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        row.addWidget(self.add_button)
        row.addWidget(self.folder_button)
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
        """What the message carries, as compose takes it: files, and study folders."""
        return [a.path for a in self._attachments]

    def entries(self) -> list[Attachment]:
        return list(self._attachments)

    def file_paths(self) -> list[Path]:
        """Every file that travels: the files, and the DICOM files of each study."""
        return [path for a in self._attachments for path, _size in a.file_sizes()]

    def get(self, path: Path) -> Attachment | None:
        return next((a for a in self._attachments if a.path == Path(path).resolve()), None)

    def total_bytes(self) -> int:
        return sum(a.size for a in self._attachments)

    def count(self) -> int:
        """Files that travel (a study counts its DICOM files)."""
        return sum(a.file_count for a in self._attachments)

    def compressible(self) -> list[Path]:
        """Uncompressed DICOM images among the files (what "Make smaller (lossless)" shrinks)."""
        return [p for a in self._attachments for p in a.compressible]

    def looking(self) -> bool:
        """Whether some files are still being looked at."""
        return any(a.content_type is None for a in self._attachments)

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
        """Attach files and folders; their type and thumbnail follow shortly. A folder is looked
        at first: with DICOM files in it, it becomes one study entry; without, its files are
        attached one by one."""
        known = {a.path for a in self._attachments}
        added: list[Attachment] = []
        folders: list[Attachment] = []
        problems: list[str] = []
        files: list[Path] = []
        for path in map(Path, paths):
            if path.is_dir():
                path = path.resolve()
                if path not in known:
                    folder = Attachment(path, 0, folder=True)
                    folder.item = self._new_item(folder)
                    self._attachments.append(folder)
                    known.add(path)
                    folders.append(folder)
            else:
                files += expand_paths([path], problems)
        for path in files:
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
        for folder in folders:
            self._tasks.run(
                lambda _control, path=folder.path: inspect_folder(path),
                on_done=self._guard(self._folder_inspected),
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

    def choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Add a folder (a DICOM study) to the message", "")
        if chosen:
            self.add([Path(chosen)])

    # -- internals ----------------------------------------------------------------------------
    def _guard(self, callback: Callable[..., None]) -> Callable[..., None]:
        def call(*args: Any) -> None:
            if isValid(self):
                callback(*args)

        return call

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.tree.selectedItems()) and not self._busy)
        self.folder_button.setEnabled(not self._busy)

    def _new_item(self, attachment: Attachment) -> QTreeWidgetItem:
        size = "" if attachment.folder else human_size(attachment.size)
        item = QTreeWidgetItem([attachment.path.name, size, "checking..."])
        item.setIcon(0, self._folder_icon() if attachment.folder else self._generic_icon())
        item.setToolTip(0, str(attachment.path))
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.tree.addTopLevelItem(item)
        return item

    def _folder_icon(self) -> QIcon:
        return self.style().standardIcon(QStyle.StandardPixmap.SP_DirIcon)

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
            attachment.compressible = (found.path,) if found.compressible else ()
            name = "Cannot be read" if found.content_type == "unreadable" else type_name(found.content_type)
            attachment.item.setText(2, name)
            attachment.item.setToolTip(2, found.content_type)
            if found.image is not None:
                attachment.item.setIcon(0, QIcon(QPixmap.fromImage(found.image)))
        self.changed.emit()

    def _folder_inspected(self, found: FolderInspected) -> None:
        folder = next((a for a in self._attachments if a.path == found.path and a.folder), None)
        if folder is None or folder.item is None:
            return  # removed meanwhile
        if not found.files:  # no study here: its files one by one, as before
            self.remove([folder.path])
            if found.problem:
                self.problem.emit(found.problem)
            elif found.others:
                self.add(list(found.others))
            else:
                self.problem.emit(f"Not attached: the folder {folder.path.name} holds no files.")
            return
        folder.files, folder.others = found.files, found.others
        folder.size = sum(size for _path, size in found.files)
        folder.content_type = STUDY_TYPE
        folder.identifiers, folder.compressible = found.identifiers, found.compressible
        count = len(found.files)
        folder.item.setText(1, human_size(folder.size))
        folder.item.setText(2, f"{STUDY_TYPE}, {count} file{'s' if count != 1 else ''}")
        tip = study_tooltip(folder)
        for column in range(3):
            folder.item.setToolTip(column, tip)
        if found.image is not None:
            folder.item.setIcon(0, QIcon(QPixmap.fromImage(found.image)))
        self.changed.emit()
