"""Compose's large studies: what travels (study folders, the measured lossless saving), the size
that follows from it, and the way the message goes when it is too large (several messages).

A mixin of :class:`~smimehelper.gui.compose.view.ComposeView` over its panels: the attachment
list (:mod:`.attachments`, a folder with DICOM files is one study entry), "Make smaller
(lossless)" (:mod:`.shrink`), "Remove patient details" (:mod:`.deid`) and "Send as N messages"
(:mod:`.split_offer`). The choices become ``ComposeInput.deidentify / compress / split /
size_limit``, so the message is built by the same code as ``compose --deidentify --compress
--split`` on the command line.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog

from ... import services
from ...core.display import human_size

if TYPE_CHECKING:
    from .view import ComposeView

    _Base = ComposeView
else:
    _Base = object

PARTS_STEM = "encrypted-message"
THUNDERBIRD_PARTS = (
    "A message sent as several goes out with Send (through your mail account), or save the parts with "
    "\"Save .eml...\": Thunderbird's Outbox is handed one message at a time."
)


class LargeMessages(_Base):
    """Sizes as sent, the split offer, and the DICOM choices of the request."""

    # -- sizes as they travel -----------------------------------------------------------------
    def travelling_sizes(self) -> dict[Path, int]:
        """Each attachment entry (a file, a study folder) -> the bytes it travels as: its DICOM
        images at their measured compressed size while "Make smaller" is on."""
        measured = self.shrink.sizes()
        return {a.path: sum(measured.get(p, size) for p, size in a.file_sizes()) for a in self.files.entries()
                if not a.folder or a.content_type is not None}  # a study not looked at yet: the checks count it themselves

    def travelling_bytes(self) -> int:
        return sum(self.travelling_sizes().values())  # a study still being looked at counts once it was

    def limit_where(self) -> str:
        """Who sets the limit, for "... but X accepts at most ..."."""
        return self._limit_source if self._limit_source.startswith("your") else "a usual mail server"

    def _split_files(self) -> list[tuple[str, int]]:
        """(name, bytes as sent) of every file, in the order a split sends them (a study's files singly)."""
        measured = self.shrink.sizes()
        return [(p.name, measured.get(p, size)) for a in self.files.entries() for p, size in a.file_sizes()]

    def _update_offer(self, estimated: int) -> None:
        recipients = len(self.to_field.entries()) + len(self.cc_field.entries()) + 1
        was_hidden = self.split_offer.isHidden()
        self.split_offer.update_offer(
            estimated, self._limit, self.limit_where(), self._split_files(), self.body_edit.toPlainText(), recipients,
            shrink_hint=bool(self.files.compressible()) and not self.shrink.switch.isChecked(),
        )
        if was_hidden and not self.split_offer.isHidden():  # new: scroll it into view ("see below")
            self.scroller.ensureWidgetVisible(self.split_offer)

    # -- the request ------------------------------------------------------------------------------
    def _with_options(self, request: services.ComposeInput) -> services.ComposeInput:
        split = self.split_offer.chosen()
        return replace(request, deidentify=self.deid.options(), compress=self.shrink.method(), split=split,
                       size_limit=self._limit if split else None)

    def _save_target(self, request: services.ComposeInput) -> Path | None:
        """Sent as several messages: a folder for the N .eml files (named so none is replaced)."""
        if not request.split:
            return super()._save_target(request)
        start = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())
        count = self.split_offer.count()
        chosen = QFileDialog.getExistingDirectory(self, f"Choose the folder for the {count} messages", start)
        if not chosen:
            return None
        return parts_target(Path(chosen))

    def open_in_mail_program(self) -> None:
        if self.split_offer.chosen():
            self._show("error", THUNDERBIRD_PARTS)
            return
        super().open_in_mail_program()

    # -- busy, progress ------------------------------------------------------------------------------
    def _set_busy(self, busy: bool, what: str = "") -> None:
        super()._set_busy(busy, what)
        self.shrink.set_busy(busy)
        self.split_offer.set_busy(busy)
        self._part, self._part_done = 0, -1

    def _progress(self, done: int, total: int) -> None:
        """services.dicom.FILES_PROGRESS: files while the DICOM copies are made, then bytes (per part)."""
        if done >= 0 or total <= 0 or self._control is None:
            super()._progress(done, total)
            if self.split_offer.chosen() and total > 0 and done >= 0 and not self._cancel_requested:
                if done < self._part_done or self._part == 0:  # the next part's bytes start again at 0
                    self._part += 1
                self._part_done = done
                self.progress_label.setText(f"Encrypting message {self._part} of about {self.split_offer.count()}: "
                                            f"{human_size(done)} of {human_size(total)}")
            return
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(min(1000, -done * 1000 // total))
        if not self._cancel_requested:
            self.progress_label.setText(f"{self._files_step()}: {-done} of {total} files")

    def _files_step(self) -> str:
        """What is done to the DICOM files while their copies are made (FILES_PROGRESS)."""
        deid, shrink = self.deid.switch.isChecked(), self.shrink.enabled()
        if deid and shrink:
            return "Removing patient details and making the images smaller"
        if deid:
            return "Removing patient details"
        if shrink:
            return "Making the images smaller (lossless)"
        return "Preparing the DICOM files"


def parts_target(folder: Path) -> Path:
    """``folder/<stem>.eml`` whose parts ``<stem>.part-K-of-N.eml`` replace no file there."""
    stem, number = PARTS_STEM, 1
    while any(folder.glob(f"{stem}.part-*.eml")) or (folder / f"{stem}.eml").exists():
        number += 1
        stem = f"{PARTS_STEM}-{number}"
    return folder / f"{stem}.eml"
