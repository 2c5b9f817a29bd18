"""Compose's "Remove patient details" switch with a before/after table of the DICOM attributes
that identify the patient.

DICOM files carry the patient's name, birth date and IDs inside them; renaming a file hides
nothing. The table shows, for the DICOM files attached, what they say now and what the colleague
gets: with the switch off the same values, with it on the values of a real de-identified copy of
the first file, made by the same code (services -> core.dicom.deidentify) that runs when the
message is built, so the table cannot promise what the sending does not do. Reading the files
and making that sample copy run on the task runner; the switch's de-identification itself runs
on the worker thread that builds the message (ComposeInput.deidentify).

Burned-in text in the pixels is not removed by de-identification: the warning from
core.dicom.summary is shown under the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QGroupBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from ...core.display import printable
from ..tasks import TaskControl, TaskRunner
from .texts import RED

ROWS = (
    ("Patient's name", "patient_name"),
    ("Patient ID", "patient_id"),
    ("Birth date", "birth_date"),
    ("Sex", "sex"),
    ("Study date", "study_date"),
    ("Study description", "study_description"),
    ("Institution", "institution"),
    ("Referring physician", "referring_physician"),
)
REMOVED = "(removed)"
SWITCH_TEXT = "Remove patient details from the DICOM files (anon&ymous copies for a second opinion)"
SWITCH_TIP = (
    "Sends copies without the patient's name, IDs, birth date, dates, institution and physicians "
    "(DICOM PS3.15 Basic Profile). Your files stay unchanged. Text burned into the image itself "
    "is not removed: look at the preview."
)
PACKAGE_REFUSED = (
    "\"Remove patient details\" is on: a password package would carry the original files with the "
    "patient's details. Turn the switch off to send a package, or ask for the certificate instead."
)
MAX_VALUES = 3


@dataclass(frozen=True)
class Summaries:
    """What the DICOM files among the attachments say (before) and what a de-identified copy of
    the first one says (after); warnings about burned-in text."""

    paths: tuple[Path, ...]
    before: dict[str, tuple[str, ...]]
    after: dict[str, str]
    warnings: tuple[str, ...]
    problems: tuple[str, ...]


def summarize_attachments(paths: Sequence[Path]) -> Summaries:
    """Runs on the task runner: reads the DICOM headers and de-identifies one sample copy."""
    from ...core.errors import UserError
    from ...services.dicom import is_dicom

    dicom = tuple(Path(p) for p in paths if is_dicom(Path(p)))
    if not dicom:
        return Summaries((), {}, {}, (), ())
    from ...core.dicom.annex_e import DeidOptions
    from ...core.dicom.deidentify import DeidSession, deidentify_file
    from ...core.dicom.summary import summarize

    values: dict[str, dict[str, None]] = {field: {} for _, field in ROWS}
    warnings: dict[str, None] = {}
    problems: list[str] = []
    readable: list[Path] = []
    for path in dicom:
        try:
            summary = summarize(path)
        except UserError as exc:
            problems.append(str(exc))
            continue
        readable.append(path)
        for _, field in ROWS:
            values[field].setdefault(getattr(summary, field), None)
        if summary.warning:
            warnings.setdefault(f"{path.name}: {summary.warning}", None)
    after: dict[str, str] = {}
    if readable:
        from ...core.dicom.files import private_folder

        with private_folder(None, "smimehelper-preview-") as folder:
            sample = folder / "sample.dcm"
            try:
                deidentify_file(readable[0], sample, DeidSession(DeidOptions()))
                cleaned = summarize(sample)
                after = {field: getattr(cleaned, field) for _, field in ROWS}
            except UserError as exc:
                problems.append(str(exc))
    before = {field: tuple(v for v in found) for field, found in values.items()}
    return Summaries(dicom, before, after, tuple(warnings), tuple(problems))


def _shown(values: Sequence[str]) -> str:
    present = [printable(v) for v in values if v]
    if not present:
        return REMOVED if values else ""
    if len(present) > MAX_VALUES:
        return "; ".join(present[:MAX_VALUES]) + f"; ... ({len(present)} different)"
    return "; ".join(present)


class DeidentifyPanel(QGroupBox):
    """The switch and the table; hidden while no DICOM file is attached. ``changed`` when the
    switch is turned."""

    changed = Signal()

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__("Patient details in the DICOM files", parent)
        self._tasks = tasks
        self._generation = 0
        self._summaries = Summaries((), {}, {}, (), ())
        self.setAccessibleName("Patient details in the DICOM files")
        layout = QVBoxLayout(self)
        self.switch = QCheckBox(SWITCH_TEXT)
        self.switch.setToolTip(SWITCH_TIP)
        self.switch.setAccessibleName("Remove patient details")
        self.switch.toggled.connect(self._refresh_table)
        self.switch.toggled.connect(lambda _on: self.changed.emit())
        layout.addWidget(self.switch)
        self.table = QTableWidget(len(ROWS), 2)
        self.table.setAccessibleName("What identifies the patient: in the files and as sent")
        self.table.setHorizontalHeaderLabels(["In your files", "What the colleague gets"])
        self.table.setVerticalHeaderLabels([label for label, _ in ROWS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(self.table.verticalHeader().length() // 2)
        layout.addWidget(self.table)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setAccessibleName("Note about patient details")
        layout.addWidget(self.note)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setTextFormat(Qt.TextFormat.PlainText)
        self.warning.setAccessibleName("Burned-in text warning")
        self.warning.setStyleSheet(f"color: {RED};")
        self.warning.hide()
        layout.addWidget(self.warning)
        self.hide()

    # -- what the rest of Compose asks ----------------------------------------------------------
    def enabled(self) -> bool:
        """Whether the files that travel are de-identified (the switch is on and DICOM is attached)."""
        return self.switch.isChecked() and bool(self._summaries.paths)

    def options(self) -> object | None:
        """``DeidOptions`` for ComposeInput.deidentify, or None."""
        if not self.switch.isChecked():
            return None
        from ...core.dicom.annex_e import DeidOptions

        return DeidOptions()

    def cell(self, row: str, column: int) -> str:
        """The text in the row labelled ``row`` (0: in the files, 1: as sent); for tests and
        screen readers."""
        index = [label for label, _ in ROWS].index(row)
        item = self.table.item(index, column)
        return item.text() if item is not None else ""

    def set_files(self, paths: Sequence[Path]) -> None:
        """Read the DICOM files among ``paths`` in the background and fill the table."""
        self._generation += 1
        generation = self._generation
        chosen = tuple(Path(p) for p in paths)

        def work(_control: TaskControl) -> Summaries:
            return summarize_attachments(chosen)

        def done(summaries: Summaries) -> None:
            if isValid(self) and generation == self._generation:
                self._summaries = summaries
                self.setVisible(bool(summaries.paths))
                self._refresh_table()

        self._tasks.run(work, on_done=done, on_error=lambda _message: None)

    # -- drawing ----------------------------------------------------------------------------------
    def _refresh_table(self) -> None:
        s = self._summaries
        on = self.switch.isChecked()
        for index, (_label, field) in enumerate(ROWS):
            before = _shown(s.before.get(field, ()))
            if not on:
                after = before
            elif s.after:
                after = _shown((s.after.get(field, ""),))
            else:
                after = "removed (no sample could be made)"
            for column, text in enumerate((before, after)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(index, column, item)
        count = len(s.paths)
        if on:
            note = (f"{count} DICOM file(s) will be sent as de-identified copies (the right column is a real copy of the "
                    "first file). The Patient ID becomes a code that is new for every send; image dates become "
                    "placeholders. Your files are not changed.")
        else:
            note = (f"{count} DICOM file(s) carry these patient details inside them; renaming a file hides nothing. "
                    "Turn on the switch when the colleague only needs the images.")
        if s.problems:
            note += "\n" + "\n".join(s.problems)
        self.note.setText(note)
        self.warning.setText("\n".join(s.warnings) + ("\nRemoving patient details does not remove text inside the image."
                                                      if s.warnings else ""))
        self.warning.setVisible(bool(s.warnings))
