"""Compose's "Make smaller (lossless)": uncompressed DICOM images compressed without changing a
pixel (JPEG-LS Lossless, as ``compose --compress``), with the saving shown before sending.

The saving is measured, not guessed: turning the option on compresses every uncompressed image
once on the task runner (``services.measure_saving``, a private temporary folder that is gone
afterwards), with progress and Stop. The sizes measured feed Compose's size estimate and its
"Send as N messages" offer. When the message is built, the same encoder compresses the files
again on the worker thread and checks every image pixel for pixel (``ComposeInput.compress``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget
from shiboken6 import isValid

from ...core.display import human_size
from ..tasks import TaskControl, TaskRunner
from ..widgets import Details

METHOD = "jpeg-ls"  # compose --compress's default
METHOD_WORDS = "JPEG-LS Lossless (DICOM transfer syntax 1.2.840.10008.1.2.4.80)"
SWITCH_TEXT = "Ma&ke the DICOM images smaller (lossless: not a single pixel changes)"
SWITCH_TIP = ("Compresses uncompressed DICOM images losslessly before they are encrypted, so the message is "
              "smaller. Every image is checked pixel for pixel after compression; your files stay unchanged.")


@dataclass(frozen=True)
class Measured:
    size: int  # bytes now
    sent: int  # bytes as sent
    compressed: bool
    note: str
    failed: bool = False


def _key(path: Path) -> tuple[Path, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (path, info.st_size, info.st_mtime_ns)


class ShrinkPanel(QWidget):
    """The option, the measured saving (with Stop while measuring) and Details; hidden while no
    uncompressed DICOM image is attached. ``changed`` when the option or a measurement changes."""

    changed = Signal()

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._paths: tuple[Path, ...] = ()
        self._keys: dict[Path, tuple[Path, int, int]] = {}
        self._measured: dict[tuple[Path, int, int], Measured] = {}
        self._control: TaskControl | None = None
        self._generation = 0
        self._stopped = False
        self._again = False  # files came while measuring: measure them when this run ends
        self.setAccessibleName("Make the DICOM images smaller")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.switch = QCheckBox(SWITCH_TEXT)
        self.switch.setToolTip(SWITCH_TIP)
        self.switch.setAccessibleName("Make smaller (lossless)")
        self.switch.toggled.connect(self._toggled)
        layout.addWidget(self.switch)
        row = QHBoxLayout()
        self.saving_label = QLabel()
        self.saving_label.setWordWrap(True)
        self.saving_label.setTextFormat(Qt.TextFormat.PlainText)
        self.saving_label.setAccessibleName("Saving")
        row.addWidget(self.saving_label, 1)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Measuring the saving")
        self.progress.setMaximumWidth(180)
        self.progress.hide()
        row.addWidget(self.progress)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop measuring")
        self.stop_button.setToolTip("Stop measuring (the images are still made smaller when the message is built)")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()
        row.addWidget(self.stop_button)
        layout.addLayout(row)
        self.details = Details(name="Compression details")
        layout.addWidget(self.details)
        self.hide()

    # -- what Compose asks ----------------------------------------------------------------------
    def enabled(self) -> bool:
        """Whether the files that travel are compressed (the option is on and there is something to compress)."""
        return self.switch.isChecked() and bool(self._paths)

    def method(self) -> str | None:
        """The ComposeInput.compress value, or None."""
        return METHOD if self.enabled() else None

    def measuring(self) -> bool:
        return self._control is not None

    def sizes(self) -> dict[Path, int]:
        """The measured size as sent of each attached uncompressed image (only while the option is
        on; files not measured yet are missing)."""
        if not self.enabled():
            return {}
        return {path: self._measured[key].sent for path, key in self._keys.items() if key in self._measured}

    def set_files(self, paths: Sequence[Path]) -> None:
        """The uncompressed DICOM images now attached."""
        self._paths = tuple(dict.fromkeys(Path(p) for p in paths))
        # Looked up once here, not on every keystroke (the size estimate asks for sizes() often).
        self._keys = {p: k for p in self._paths if (k := _key(p)) is not None}
        self.setVisible(bool(self._paths))
        if self.switch.isChecked():
            self._measure()
        self._show()

    def set_busy(self, busy: bool) -> None:
        self.switch.setEnabled(not busy)

    def stop(self) -> None:
        if self._control is not None:
            self._stopped = True
            self._control.cancel()
            self.stop_button.setEnabled(False)
            self.saving_label.setText("Stopping...")

    # -- measuring ------------------------------------------------------------------------------
    def _toggled(self, on: bool) -> None:
        if on:
            self._measure()
        else:
            self.stop()
        self._show()
        self.changed.emit()

    def _measure(self) -> None:
        wanted = [p for p, k in self._keys.items() if k not in self._measured]
        if not wanted:
            return
        if self._control is not None:
            self._again = True
            return
        self._generation += 1
        generation = self._generation
        self._stopped = False
        self._again = False
        from ... import services

        keys = [self._keys[p] for p in wanted]

        def work(control: TaskControl) -> list[tuple[tuple[Path, int, int], Measured]]:
            saving = services.measure_saving(wanted, METHOD, progress=control.progress, cancelled=control.cancelled)
            return [(key, Measured(f.original_size, f.size, f.method is not None, f.note, f.failed))
                    for key, f in zip(keys, saving.files)]

        def done(results: list[tuple[tuple[Path, int, int], Measured]]) -> None:
            if not isValid(self) or generation != self._generation:
                return
            failures = [m.note for _key, m in results if m.failed]
            for key, measured in results:
                if not measured.failed:  # a failure is measured again next time
                    self._measured[key] = measured
            self._finished(f"not measured: {failures[0]}" if failures else "")

        def failed(message: str) -> None:
            if not isValid(self) or generation != self._generation:
                return
            self._finished(message)

        def progress(done_files: int, total: int) -> None:
            if isValid(self) and generation == self._generation and total > 0 and not self._stopped:
                self.progress.setRange(0, total)
                self.progress.setValue(done_files)
                self.saving_label.setText(f"Measuring the saving: {done_files} of {total} images...")

        self._control = self._tasks.run(work, on_done=done, on_error=failed, on_progress=progress)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.stop_button.setEnabled(True)
        self.stop_button.show()
        self.saving_label.setText(f"Measuring the saving of {len(wanted)} image{'s' if len(wanted) != 1 else ''}...")

    def _finished(self, problem: str = "") -> None:
        self._control = None
        self.progress.hide()
        self.stop_button.hide()
        again = self._again and not self._stopped
        self._show(problem)
        self.changed.emit()
        if again and self.switch.isChecked():
            self._measure()

    # -- drawing ----------------------------------------------------------------------------------
    def _show(self, problem: str = "") -> None:
        if self._control is not None:
            return  # the progress says what is happening
        count = len(self._paths)
        images = f"{count} uncompressed DICOM image{'s' if count != 1 else ''}"
        if not self.switch.isChecked():
            self.saving_label.setText(f"{images} could be sent smaller without changing a single pixel.")
            self.details.set_text("")
            return
        known = [self._measured[k] for k in self._keys.values() if k in self._measured]
        if problem or len(known) < count:
            reason = problem or "not measured yet"
            self.saving_label.setText(f"{images} will be made smaller when the message is built ({reason}).")
            self.details.set_text(self._technical(known))
            return
        before, after = sum(m.size for m in known), sum(m.sent for m in known)
        percent = 100 - 100 * after / before if before else 0
        self.saving_label.setText(f"{images}: {human_size(before)} now, {human_size(after)} when sent "
                                  f"({percent:.0f}% smaller, measured).")
        self.details.set_text(self._technical(known))

    def _technical(self, known: Sequence[Measured]) -> str:
        lines = [f"Method: {METHOD_WORDS}.",
                 "When the message is built, every image is compressed again, decoded and compared with the original "
                 "pixel for pixel; an image that would not come back identical, or would not get smaller, travels "
                 "unchanged. Most current DICOM viewers read JPEG-LS; a very old viewer may not.",
                 f"Measured {len(known)} of {len(self._paths)}: {sum(1 for m in known if m.compressed)} compressed."]
        unchanged: dict[str, int] = {}
        for m in known:
            if not m.compressed:
                unchanged[m.note or "unchanged"] = unchanged.get(m.note or "unchanged", 0) + 1
        lines += [f"Unchanged ({reason}): {number}" for reason, number in unchanged.items()]
        return "\n".join(lines)
