"""Compose's offer for a message too large for the mail account: "Send as N messages".

N is the count ``compose --split`` makes of the same files (``core.dicom.split.plan``: complete
files per message, each message predicted under the limit); the parts are then built by the
same code (``services.compose_message`` with ``split``). Each part is signed and encrypted on
its own and carries the list of all files, so the colleague's smimehelper puts them together
and a colleague without it saves all attachments into one folder. A single file too large even
alone cannot be split: the offer then says so and names the ways out.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QGroupBox, QLabel, QVBoxLayout, QWidget

from ...core.display import human_size
from ..widgets import Details, plain_label
from .texts import AMBER


class SplitOffer(QGroupBox):
    """Shown while the message would exceed the limit; ``changed`` when the choice changes."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Too large for one message", parent)
        self.setAccessibleName("Too large for one message")
        self._count = 0
        self._limit = 0
        self._plan: list[list[int]] = []
        layout = QVBoxLayout(self)
        self.text = plain_label()
        self.text.setAccessibleName("Why the message is too large")
        layout.addWidget(self.text)
        self.choice = QCheckBox("Send as several messages")
        self.choice.setAccessibleName("Send as several messages")
        self.choice.setToolTip("Each message is signed and encrypted on its own and holds complete files; "
                               "the subjects end \"(part 1 of N)\".")
        self.choice.toggled.connect(lambda _on: self._chosen_changed())
        layout.addWidget(self.choice)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setAccessibleName("How the colleague opens them")
        layout.addWidget(self.note)
        self.details = Details(name="How the study is split")
        layout.addWidget(self.details)
        self.hide()

    # -- what Compose asks ----------------------------------------------------------------------
    def chosen(self) -> bool:
        """Whether the user chose to send the message as several (while it is too large)."""
        return self._count > 1 and self.choice.isChecked() and not self.isHidden()

    def count(self) -> int:
        """How many messages the offer names (0: no offer)."""
        return self._count if not self.isHidden() else 0

    def set_busy(self, busy: bool) -> None:
        self.choice.setEnabled(not busy and self._count > 1)

    def update_offer(self, estimated: int, limit: int, where: str, files: Sequence[tuple[str, int]], body: str,
                     recipients: int, *, shrink_hint: bool = False) -> None:
        """Offer a split when ``estimated`` exceeds ``limit``; ``files`` are (name, bytes as sent)
        in the order they travel."""
        if estimated <= limit or not files:
            self._count, self._plan = 0, []
            self.choice.setChecked(False)
            self.hide()
            return
        from ...core.dicom.split import SplitError, plan

        self._limit = limit
        head = f"The message would be about {human_size(estimated)}, but {where} accepts at most {human_size(limit)}."
        sizes = [size for _name, size in files]
        try:
            groups = plan(sizes, limit, body, recipients)
        except SplitError:
            groups = []
        if len(groups) < 2:
            big = max(files, key=lambda f: f[1])
            self._count, self._plan = 0, []
            self.choice.setChecked(False)
            self.choice.setEnabled(False)
            self.choice.setText("Send as several messages")
            way = " Make it smaller (lossless) above, or" if shrink_hint else ""
            self.text.setText(f"{head} {big[0]} alone ({human_size(big[1])}) does not fit into one message, so "
                              f"the files cannot be spread over several.{way} save the message as a file and hand it "
                              "over another way (a USB stick, a file-sharing service).")
            self.note.setText("")
            self.note.hide()
            self.details.set_text("")
            self.show()
            return
        self._count, self._plan = len(groups), groups
        self.choice.setEnabled(True)
        self.choice.setText(f"Send as {len(groups)} messages")
        self.choice.setAccessibleName(f"Send as {len(groups)} messages")
        hint = " Or make the DICOM files smaller (lossless) above: fewer messages." if shrink_hint else ""
        self.text.setText(f"{head} It can go as {len(groups)} messages, each under {human_size(limit)}, "
                          f"with complete files in each.{hint}")
        self.note.setText(
            f"Your colleague opens all {len(groups)} together in smimehelper (it checks that every file arrived "
            "and puts the study back together), or saves the attachments of all of them into one folder."
        )
        self.note.show()
        lines = [f"Part {number} of {len(groups)}: {len(group)} file{'s' if len(group) != 1 else ''}, "
                 f"{human_size(sum(sizes[i] for i in group))} of files" for number, group in enumerate(groups, start=1)]
        self.details.set_text("\n".join([
            "Each part is a complete signed and encrypted message with complete files; subjects end "
            f"\"(part k of {len(groups)})\". Every part carries the list of all files with their SHA-256 "
            "(smimehelper-parts.json), so a missing or changed file is found. A study folder travels as its "
            "single files (not as one study archive) when it is split.",
            *lines,
            "The count is predicted from the sizes; the parts are checked after they are written and a part "
            "over the limit is split again.",
        ]))
        self.text.setStyleSheet(f"color: {AMBER};")
        self.show()

    # -- internals ------------------------------------------------------------------------------
    def _chosen_changed(self) -> None:
        self.changed.emit()
