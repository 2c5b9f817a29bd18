"""The "Log" tab: every transfer recorded, searchable by patient, with its state; Export and Check.

Export writes one patient's accounting of disclosures (PDF or CSV) and signs a checkpoint of
the log first, so the passphrase is asked (on the GUI thread) when the key needs one; the
export and the check run on a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QInputDialog, QLabel, QLineEdit, QPushButton,
    QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from ..core.disclosure.pdf_export import STATE_WORDS
from ..core.disclosure.report import TransferView
from ..core.errors import UserError
from .context import GuiContext
from .widgets import CAUTION, GOOD, INFO, PROBLEM, Banner, alive, visible
from .style import icon

COLUMNS = ("Date (UTC)", "State", "To", "Patient / study", "Files", "How", "Purpose")
STATE_COLOURS = {"sent": "#1b7f3b", "handed-over": "#1b7f3b", "failed": "#b3261e", "queued": "#9a6700", "recorded": "#9a6700"}


class LogView(QWidget):
    """Public API: ``refresh()``, ``search`` (QLineEdit), ``table``, ``banner``, ``views()``,
    ``export(path, patient_id, passphrase)``, ``check()``; signal ``finished(str)`` after an
    export or check (the banner text)."""

    finished = Signal(str)

    def __init__(self, ctx: GuiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._views: list[TransferView] = []
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by patient name or ID")
        self.search.setAccessibleName("Search by patient")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _text: self.refresh())
        self.export_button = self._button("save", "&Export...", "Export the accounting of disclosures of one patient (PDF or CSV)", self.choose_export)
        self.check_button = self._button("", "&Check the log", "Check that no entry was changed, removed or added", self.check)
        top = QHBoxLayout()
        top.addWidget(QLabel("Patient:"))
        top.addWidget(self.search, 1)
        top.addWidget(self.export_button)
        top.addWidget(self.check_button)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setAccessibleName("Disclosure log")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((140, 110, 190, 230, 170, 170)):
            self.table.setColumnWidth(column, width)
        self.banner = Banner(name="Log status")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.banner)
        self.refresh()

    def _button(self, icon_name: str, text: str, tip: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(icon(icon_name), text) if icon_name else QPushButton(text)
        button.setToolTip(tip)
        button.setAccessibleName(text.replace("&", "").rstrip("."))
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def views(self) -> list[TransferView]:
        return list(self._views)

    def refresh(self) -> None:
        from ..services.disclosure_log import list_transfers

        try:
            views = list_transfers(self.ctx.stores(), patient=self.search.text().strip() or None)
        except UserError as exc:
            self.banner.show_message(str(exc), PROBLEM)
            views = []
        self._views = list(reversed(views))  # newest first
        self.table.setRowCount(len(self._views))
        for row, view in enumerate(self._views):
            t = view.transfer
            cells = (
                view.entry.time.replace("T", " ").rstrip("Z"),
                STATE_WORDS.get(view.state, view.state),
                ", ".join(str(r) for r in t.recipients),
                view.patient_words(),
                ", ".join(f.name for f in t.files),
                t.method_words() + (f", part {t.part}" if t.part else ""),
                t.purpose,
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(visible(text))
                if column == 1:
                    item.setForeground(QBrush(QColor(STATE_COLOURS.get(view.state, "#3c4a5c"))))
                    if view.reply:
                        item.setToolTip(visible(f"Server: {view.reply}"))
                self.table.setItem(row, column, item)
        self.export_button.setEnabled(bool(self._views) or bool(self.search.text().strip()))

    def choose_export(self) -> None:
        guess = self.search.text().strip()
        patient, ok = QInputDialog.getText(self, "Export a patient's disclosures", "Patient ID:", text=guess)
        if not ok or not patient.strip():
            return
        path, chosen = QFileDialog.getSaveFileName(self, "Save the accounting of disclosures", f"disclosures-{patient.strip()}.pdf",
                                                   "PDF (*.pdf);;CSV for spreadsheets (*.csv)")
        if not path:
            return
        passphrase = self.ctx.identity_passphrase(self)
        if passphrase is None:
            self.banner.show_message("Nothing was exported: the passphrase is needed to sign the log.", CAUTION)
            return
        self.export(Path(path), patient.strip(), passphrase)

    def export(self, path: Path, patient_id: str, passphrase: bytes) -> None:
        from ..services.disclosure_log import export_accounting

        ctx = self.ctx
        kind = "csv" if path.suffix.lower() == ".csv" else "pdf"

        def work(_control: Any) -> Any:
            return export_accounting(ctx.stores(), patient_id, path, kind=kind, ask_passphrase=lambda _p: passphrase)

        def done(result: Any) -> None:
            count = len(result.report.transfers)
            text = f"Wrote {result.path}: {count} disclosure{'s' if count != 1 else ''} of patient {patient_id}."
            level = GOOD if result.verification.ok else PROBLEM
            if not result.verification.ok:
                text += " WARNING: the log does not verify; the export says so."
            self._show(text, level)

        self.banner.show_message("Exporting...", INFO)
        self._start(work, done)

    def check(self) -> None:
        from ..services.disclosure_log import verify

        ctx = self.ctx

        def work(_control: Any) -> Any:
            return verify(ctx.stores())

        def done(result: Any) -> None:
            if result.ok:
                self._show(f"The log is intact: {result.entries} entries, each chained to the one before, none missing.", GOOD)
            else:
                bad = result.first_bad
                self._show(f"The log does NOT verify. First bad entry: {bad.seq}. {bad.problem}", PROBLEM)

        self._start(work, done)

    def _show(self, text: str, level: str) -> None:
        self.refresh()
        self.banner.show_message(visible(text), level)
        self.finished.emit(text)

    def _start(self, work: Callable[[Any], Any], done: Callable[[Any], None]) -> None:
        def failed(message: str) -> None:
            if alive(self):
                self._show(message, PROBLEM)

        self.ctx.tasks.run(work, on_done=lambda result: alive(self) and done(result), on_error=failed)


__all__ = ["LogView"]
