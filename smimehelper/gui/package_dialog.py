"""The passphrase of a password package, shown once, large, with Copy and the advice.

The passphrase is never stored: it lives in this dialog (and in the clipboard if the user
copies it, which is cleared again when the dialog closes if it still holds the passphrase).
"""

from __future__ import annotations

from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget

from ..core.display import printable


class PassphraseDialog(QDialog):
    def __init__(self, recipient: str, passphrase: str, summary: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Passphrase for the password package")
        self._passphrase = passphrase
        self._copied = False
        layout = QVBoxLayout(self)
        done = QLabel(summary)
        done.setWordWrap(True)
        done.setAccessibleName("What was done")
        layout.addWidget(done)
        advice = QLabel(
            f"Tell {printable(recipient)} this passphrase by phone or text message, never by e-mail. "
            "It is shown only now and is not stored anywhere."
        )
        advice.setWordWrap(True)
        advice.setAccessibleName("Advice")
        layout.addWidget(advice)
        self.passphrase_label = QLabel(passphrase)
        font = QFont(self.passphrase_label.font())
        font.setPointSizeF(max(font.pointSizeF(), 10) * 2.0)
        font.setBold(True)
        self.passphrase_label.setFont(font)
        self.passphrase_label.setWordWrap(True)
        self.passphrase_label.setTextInteractionFlags(self.passphrase_label.textInteractionFlags().TextSelectableByMouse)
        self.passphrase_label.setAccessibleName("Passphrase")
        layout.addWidget(self.passphrase_label)
        buttons = QDialogButtonBox()
        self.copy_button = QPushButton("Copy")
        self.copy_button.setAccessibleName("Copy the passphrase")
        self.copy_button.clicked.connect(self.copy)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self._passphrase)
        self._copied = True
        self.copy_button.setText("Copied")

    def done(self, result: int) -> None:  # noqa: D401 - Qt's name
        clipboard = QGuiApplication.clipboard()
        if self._copied and clipboard.text() == self._passphrase:
            clipboard.clear()
        super().done(result)
