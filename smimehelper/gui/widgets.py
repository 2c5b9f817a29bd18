"""Small pieces every view uses: the coloured :class:`Banner`, labels that never read their text
as HTML, a "Details" expander for the technical words, and the fingerprint in groups.

The app speaks a dentist's words first; whatever an expert needs (cipher names, full
certificate names, server replies) sits behind :class:`Details`, one click away.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from ..core.display import fingerprint_in_groups, printable
from .style import icon

GOOD, PROBLEM, CAUTION, INFO = "good", "problem", "caution", "info"
LEVEL_COLOURS = {GOOD: "#1b7f3b", PROBLEM: "#b3261e", CAUTION: "#9a6700", INFO: "#3c4a5c"}
LEVEL_ICONS = {GOOD: "ok", PROBLEM: "error", CAUTION: "warning"}
LEVEL_WORDS = {GOOD: "OK", PROBLEM: "Problem", CAUTION: "Caution", INFO: "Note"}

visible = printable  # the GUI's name for it: sender-controlled text made safe to show


fingerprint_groups = fingerprint_in_groups  # "A1B2 C3D4 ..." in two lines: read out on the phone


def plain_label(text: str = "", *, selectable: bool = True, wrap: bool = True) -> QLabel:
    """A label that never interprets its text as HTML (Qt guesses rich text otherwise)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    if selectable:
        label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
    return label


def alive(widget: object) -> bool:
    """False once Qt deleted the widget (a task may report after its view was closed)."""
    return shiboken6.isValid(widget)


class Details(QWidget):
    """A "Details" button that shows or hides technical text under it (hidden at first).

    ``set_text("")`` hides the whole thing: no button leads to nothing.
    """

    def __init__(self, parent: QWidget | None = None, *, name: str = "Details") -> None:
        super().__init__(parent)
        self.button = QToolButton()
        self.button.setText("Details")
        self.button.setCheckable(True)
        self.button.setAutoRaise(True)
        self.button.setArrowType(Qt.ArrowType.RightArrow)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setAccessibleName(f"Show {name.lower()}")
        self.button.toggled.connect(self._toggled)
        self.text_label = plain_label()
        self.text_label.setAccessibleName(name)
        self.text_label.setStyleSheet("color: palette(placeholder-text);")
        self.text_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.text_label)
        self.hide()

    def set_text(self, text: str) -> None:
        self.text_label.setText(text)
        self.setVisible(bool(text))
        if not text:
            self.button.setChecked(False)

    def text(self) -> str:
        return self.text_label.text()

    def expanded(self) -> bool:
        return self.button.isChecked()

    def expand(self, on: bool = True) -> None:
        self.button.setChecked(on)

    def _toggled(self, on: bool) -> None:
        self.button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.text_label.setVisible(on)


class Banner(QFrame):
    """A coloured message line: green good, red problem, amber caution, grey information; with
    optional technical :class:`Details` under it.

    The level is also in the text read by screen readers (colour is never the only cue).
    """

    def __init__(self, parent: QWidget | None = None, *, name: str = "Message") -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.level = INFO
        self.label = plain_label()
        self.label.setObjectName("bannerText")
        self.symbol = QLabel()
        self.symbol.setFixedSize(18, 18)
        self.symbol.setAccessibleName("")
        self.details = Details(name=f"{name} details")
        self.details.text_label.setStyleSheet("color: white;")
        self.details.button.setStyleSheet("color: white;")
        text_box = QVBoxLayout()
        text_box.setContentsMargins(0, 0, 0, 0)
        text_box.setSpacing(2)
        text_box.addWidget(self.label)
        text_box.addWidget(self.details)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.symbol, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(text_box, 1)
        self._name = name
        self.setAccessibleName(name)
        self.hide()

    def show_message(self, text: str, level: str = INFO, details: str = "") -> None:
        self.level = level
        colour = LEVEL_COLOURS.get(level, LEVEL_COLOURS[INFO])
        self.setStyleSheet(
            f"QFrame#banner {{ background: {colour}; border-radius: 4px; }}"
            "QLabel#bannerText { color: white; }"
        )
        symbol = icon(LEVEL_ICONS.get(level, ""))
        self.symbol.setPixmap(symbol.pixmap(18, 18) if not symbol.isNull() else QPixmap())
        self.symbol.setVisible(not symbol.isNull())
        self.label.setText(text)
        self.details.set_text(details)
        self.setAccessibleDescription(f"{LEVEL_WORDS.get(level, '')}: {text}")
        self.label.setAccessibleName(f"{self._name} ({LEVEL_WORDS.get(level, '')})")
        self.show()

    def clear(self) -> None:
        self.label.setText("")
        self.details.set_text("")
        self.hide()

    def text(self) -> str:
        return self.label.text()


__all__ = [
    "GOOD", "PROBLEM", "CAUTION", "INFO", "LEVEL_COLOURS", "Banner", "Details", "alive", "fingerprint_groups",
    "plain_label", "visible",
]
