"""Compose's result line: what happened in a sentence or two, the technical part behind Details.

Its height is bounded (it scrolls when long), so a long answer never squeezes the list of files.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from ..widgets import Details, plain_label
from .texts import AMBER, GREEN, RED

MAX_LINES = 6


class ResultArea(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = plain_label()
        self.label.setAccessibleName("Result")
        self.scroller = QScrollArea()
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setWidget(self.label)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.details = Details(name="Technical details")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.scroller)
        layout.addWidget(self.details)
        self.hide()

    def show_text(self, kind: str, text: str, details: str = "") -> None:
        colour = {"ok": GREEN, "warn": AMBER, "error": RED}.get(kind)
        self.label.setProperty("kind", kind)
        self.label.setStyleSheet(f"color: {colour};" if colour else "")
        self.label.setText(text)
        self.label.setAccessibleDescription(text)
        lines = max(1, min(MAX_LINES, text.count("\n") + 1 + len(text) // 110))
        self.scroller.setFixedHeight(self.label.fontMetrics().lineSpacing() * lines + 6)
        self.details.set_text(details)
        self.show()
