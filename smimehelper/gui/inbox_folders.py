"""The Inbox tab's folder choice: tick the folders of the mailbox whose secure messages it shows."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from .widgets import visible

NAME_ROLE = Qt.ItemDataRole.UserRole + 1


class FolderDialog(QDialog):
    """Tick the folders whose secure messages the Inbox tab shows."""

    def __init__(self, names: list[str], chosen: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Folders to show")
        self.list = QListWidget()
        self.list.setAccessibleName("Folders")
        for name in names:
            item = QListWidgetItem(visible(name))
            item.setData(NAME_ROLE, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in chosen else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.list.itemChanged.connect(lambda _item: self.ok_button.setEnabled(bool(self.chosen())))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Show the signed and encrypted messages of these folders:"))
        layout.addWidget(self.list)
        layout.addWidget(buttons)

    def chosen(self) -> list[str]:
        return [self.list.item(i).data(NAME_ROLE) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]
