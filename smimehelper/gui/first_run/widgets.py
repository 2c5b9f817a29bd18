"""What the pages of the first-run assistant share: page numbers, colours, the status line, the drop area."""

from __future__ import annotations


import shiboken6
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QWidget,
)

from ..style import icon

PAGE_CERTIFICATE, PAGE_ACCOUNT, PAGE_SELF_TEST = range(3)
CERTIFICATE_SUFFIXES = (".p12", ".pfx")
SECURITY_CHOICES = (
    ("starttls", "Encrypted after connecting, usually port 587 (STARTTLS)", 587),
    ("tls", "Encrypted from the start, usually port 465 (TLS)", 465),
)
COLOURS = {"ok": "#1b7f3b", "error": "#b3261e", "warning": "#8a5a00", "busy": "#3a4a5c", "info": "#3a4a5c"}


def _alive(obj: object) -> bool:
    """False once Qt deleted the widget (the assistant was closed while a task was running)."""
    return shiboken6.isValid(obj)


def _wrapped(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class StatusLine(QWidget):
    """An icon and a sentence: working on it, done, a warning, or an error (selectable, to copy)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = ""
        self.icon_label = QLabel()
        self.icon_label.setFixedSize(20, 20)
        self.text_label = _wrapped()
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setFixedSize(60, 10)
        self.busy_bar.setTextVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.icon_label, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.busy_bar, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.text_label, 1)
        self.clear()

    def text(self) -> str:
        return self.text_label.text()

    def clear(self) -> None:
        self._show("", "")

    def busy(self, text: str) -> None:
        self._show("busy", text)

    def ok(self, text: str) -> None:
        self._show("ok", text)

    def warning(self, text: str) -> None:
        self._show("warning", text)

    def error(self, text: str) -> None:
        self._show("error", text)

    def _show(self, kind: str, text: str) -> None:
        self.kind = kind
        self.text_label.setText(text)
        self.text_label.setStyleSheet(f"color: {COLOURS.get(kind, COLOURS['info'])};")
        self.text_label.setAccessibleName({"error": "Error", "warning": "Warning", "ok": "Done"}.get(kind, "Status"))
        self.busy_bar.setVisible(kind == "busy")
        name = {"ok": "ok", "error": "error", "warning": "warning"}.get(kind)
        self.icon_label.setPixmap(icon(name).pixmap(QSize(20, 20)) if name else QPixmap())
        self.icon_label.setVisible(name is not None)
        self.setVisible(bool(text))


class DropArea(QFrame):
    """The dashed box on the certificate page; highlighted while a file is dragged over the page."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropArea")
        self.set_highlight(False)

    def set_highlight(self, on: bool) -> None:
        border, background = ("#2b6cb0", "#e3eefa") if on else ("#9db5d3", "#f6f9fc")
        self.setStyleSheet(
            f"QFrame#dropArea {{ border: 2px dashed {border}; border-radius: 8px; background: {background}; }}"
        )


# -- page 1: the certificate --------------------------------------------------------------------


