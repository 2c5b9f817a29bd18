"""Open's side of a study sent in several messages: the parts chosen together (several files in
the dialog, or several .eml dropped on the window) are checked together and listed as one study;
Save all writes the study's files into one folder, byte for byte as the sender listed them.

A mixin of :class:`~smimehelper.gui.open_view.OpenView`; the work is :mod:`.open_study` on the
task runner, with progress and Cancel. One part opened alone says which part it is and which are
missing (:func:`.open_work.open_and_look`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .open_study import OpenedStudy, open_study, save_study
from .widgets import CAUTION, GOOD, INFO, PROBLEM, visible

if TYPE_CHECKING:
    from .open_view import OpenView

    _Base = OpenView
else:
    _Base = object


class StudyOpening(_Base):
    """open_files / open_parts; the study's rows saved from their parts."""

    study: OpenedStudy | None = None

    def open_files(self, paths: Sequence[Path]) -> None:
        """One message is opened as itself; several are the parts of one study."""
        paths = [Path(p) for p in dict.fromkeys(paths)]
        if len(paths) == 1:
            self.open_file(paths[0])
        elif paths:
            self.open_parts(paths)

    def open_parts(self, paths: Sequence[Path]) -> None:
        """Decrypt and check every part on a worker thread, then show the study."""
        paths = tuple(Path(p) for p in paths)
        passphrase = self.ctx.identity_passphrase(self)
        if passphrase is None:
            self.status_banner.show_message(f"The {len(paths)} messages were not opened: no passphrase was given.", CAUTION)
            return
        self._release()
        self._generation += 1
        generation = self._generation
        self.path, self.opened, self._passphrase, self._title = paths[0], None, passphrase, None
        self._clear_message()
        self._parts = paths
        self.file_label.setText(f"Opening {len(paths)} messages ...")
        self.status_banner.clear()
        ctx = self.ctx

        def work(control: Any) -> OpenedStudy:
            return open_study(ctx, paths, passphrase, control)

        def progress(done: int, total: int) -> None:
            if generation == self._generation and total > 0:
                self.progress.setRange(0, total)
                self.progress.setValue(done)
                self.file_label.setText(f"Opening {len(paths)} messages: {done} of {total} checked ...")

        self._start(work, lambda study: self._show_study(generation, study),
                    lambda message: self._parts_failed(generation, message), progress=progress, cancellable=True)

    def _show_study(self, generation: int, study: OpenedStudy) -> None:
        if generation != self._generation:
            return
        self._show(generation, study.first, {})
        self.study = study
        self._parts = study.messages
        self.path = study.messages[0]
        names = ", ".join(visible(p.name) for p in study.messages)
        self.file_label.setText(f"{study.parts} messages: {names}")
        self.attachments_table.fill_study([(f.shown, f.part) for f in study.files], study.parts, study.looked)
        self.attachments_box.setTitle(f"Study: {len(study.files)} files in {study.parts} messages")
        self.save_all_button.setEnabled(bool(study.files))
        about = ", ".join(visible(v) for v in (study.study.get("description"), study.study.get("modality")) if v)
        self.status_banner.show_message(
            f"All {study.parts} parts are here and every file matches the sender's list: {len(study.files)} files"
            + (f" ({about})" if about else "") + ". Save all... writes the study into one folder.", GOOD,
            "\n".join(f"Part {n}: {visible(str(p))}" for n, p in enumerate(study.messages, start=1))
            + (f"\nStudy Instance UID: {visible(study.study['study_uid'])}" if study.study.get("study_uid") else ""),
        )

    def _parts_failed(self, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self._passphrase = None
        self.file_label.setText(", ".join(visible(p.name) for p in self._parts))
        if message.startswith("Cancelled"):
            self.verdict_banner.show_message(f"Not opened: {message}", INFO)
        elif " missing" in message:
            self.verdict_banner.show_message(f"The study is not complete. {message}", CAUTION)
        else:
            hint = (" Open messages that are not parts of one study one at a time."
                    if "is not a part of a split study" in message else "")
            self.verdict_banner.show_message(f"The {len(self._parts)} messages could not be opened together: {message}{hint}", PROBLEM)
        self.failed.emit(message)

    # -- saving the study's files ------------------------------------------------------------
    def _save_study_file(self, index: int) -> None:
        study = self.study
        if study is None or not 0 <= index < len(study.files):
            return
        chosen = study.files[index]
        self._save_one(chosen.message, chosen.index, chosen.shown)  # OpenSaving's, as for one message

    def _save_study_all(self) -> None:
        study = self.study
        if study is None:
            return
        folder = self._choose_folder(f"Save the {len(study.files)} files of the study to folder")
        if folder is None:
            return
        passphrase = self._passphrase or b""
        ctx, messages = self.ctx, study.messages

        def work(control: Any) -> list[Path]:
            return save_study(ctx, messages, passphrase, folder, control)

        def progress(done: int, total: int) -> None:
            if total > 0 and self.study is study:
                self.progress.setRange(0, total)
                self.progress.setValue(abs(done))
                what = f"checking part {done} of {total}" if done >= 0 else f"writing file {-done} of {total}"
                self.status_banner.show_message(f"Saving the study: {what} ...", INFO)

        self.status_banner.show_message("Saving the study ...", INFO)
        self._start(work, self._saved, self._save_failed, progress=progress, cancellable=True)

    def _reopen(self) -> None:
        """Open what is shown again (after trusting its signer)."""
        if self.study is not None:
            self.open_parts(self.study.messages)
        elif self.path is not None:
            self.open_file(self.path)
