"""Open's saving: one attachment or all of them into a folder the user chooses, on a worker
thread; a message whose checks failed is saved only after a warning. A study sent in several
messages is saved by :mod:`.open_parts` (dispatched from here).

A mixin of :class:`~smimehelper.gui.open_view.OpenView`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QFileDialog, QMessageBox

from .. import services
from .open_work import _asker
from .widgets import CAUTION, GOOD, INFO, PROBLEM, visible

if TYPE_CHECKING:
    from .open_view import OpenView

    _Base = OpenView
else:
    _Base = object


class OpenSaving(_Base):
    # -- saving ---------------------------------------------------------------------------------
    def _save_current(self) -> None:
        row = self.attachments_table.currentRow()
        if row >= 0:
            self.save_attachment(row)

    def _confirm_unsafe(self) -> bool:
        """Files of a message whose checks failed may have been changed: say so first."""
        if self.opened is None or self.opened.all_good:
            return True
        answer = QMessageBox.question(
            self, "Save files of an unverified message?",
            "A security check of this message failed, so its files may have been changed or may "
            "not come from the sender. Save them anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _choose_folder(self, title: str) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self, title, self._last_folder)
        if not folder:
            return None
        self._last_folder = folder
        return Path(folder)

    def save_attachment(self, index: int) -> None:
        """Ask for a folder and save attachment ``index`` there (safe name, never overwriting)."""
        if self.study is not None:  # every part passed every check before the study was listed
            self._save_study_file(index)
            return
        if self.opened is None or self.path is None or not 0 <= index < len(self.opened.attachments):
            return
        if not self._confirm_unsafe():
            return
        self._save_one(self.path, index, self.opened.attachments[index])

    def _save_one(self, message: Path, index: int, shown: Any) -> None:
        """Attachment ``index`` of ``message`` (as listed: ``shown``) into a folder the user
        chooses, decrypted again off the GUI thread."""
        folder = self._choose_folder(f"Save {visible(shown.filename)} to folder")
        if folder is None:
            return
        request = services.OpenInput(message=message)
        passphrase = self._passphrase or b""
        ctx = self.ctx

        def work(_control: Any) -> list[Path]:
            return [services.save_attachment(request, index, shown, folder, _asker(passphrase), stores=ctx.stores())]

        self.status_banner.show_message(f"Saving {visible(shown.filename)} ...", INFO)
        self._start(work, self._saved, self._save_failed)

    def save_all(self) -> None:
        """Ask for a folder and save every attachment there."""
        if self.study is not None:
            self._save_study_all()
            return
        if self.opened is None or self.path is None or not self.opened.attachments:
            return
        if not self._confirm_unsafe():
            return
        folder = self._choose_folder("Save all files to folder")
        if folder is None:
            return
        request = services.OpenInput(message=self.path, save_attachments=folder)
        passphrase = self._passphrase or b""
        ctx = self.ctx

        def work(_control: Any) -> list[Path]:
            opened = services.open_message_file(request, _asker(passphrase), stores=ctx.stores())
            return [a.saved_to for a in opened.attachments if a.saved_to is not None]

        self.status_banner.show_message("Saving the files ...", INFO)
        self._start(work, self._saved, self._save_failed)

    def _saved(self, paths: list[Path]) -> None:
        if not paths:
            self.status_banner.show_message("Nothing was saved.", CAUTION)
        elif len(paths) == 1:
            self.status_banner.show_message(f"Saved {visible(paths[0].name)} to {visible(str(paths[0].parent))}.", GOOD)
        else:
            self.status_banner.show_message(f"Saved {len(paths)} files to {visible(str(paths[0].parent))}.", GOOD)
        self.saved.emit(paths)

    def _save_failed(self, message: str) -> None:
        self.status_banner.show_message(f"Not saved: {message}", PROBLEM)
        self.failed.emit(message)
