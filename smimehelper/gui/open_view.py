"""Open a received message: the security verdict in plain words, the text and the files.

The verdict uses the command line's wording (``smimehelper open``), colour-coded: green when
everything checks out, red when a check failed, amber when there is nothing to check (neither
signed nor encrypted, or not signed). Everything the sender wrote (From, Subject, the text, file
names) is shown as plain text with control characters made visible; it is never rendered as
HTML. Decrypting and saving run on a worker thread; the passphrase is asked first, on the GUI
thread, and only when the key is protected by one.

The verdict's words are :mod:`.open_verdict`, the files' table :mod:`.open_attachments`; the
small pieces all views share (:class:`Banner`, :func:`visible`) are :mod:`.widgets`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .. import services
from ..core.display import TRUNCATED_NOTE, human_size
from .context import GuiContext
from .open_attachments import AttachmentsTable, Looked
from .open_parts import StudyOpening
from .open_saving import OpenSaving
from .open_work import _asker, open_and_look  # noqa: F401 (re-exported)
from .open_verdict import technical_details, trust_candidate, verdict
from .style import icon
from .widgets import (  # noqa: F401 (re-exported: other views import them from here)
    CAUTION, GOOD, INFO, LEVEL_COLOURS, PROBLEM, Banner, Details, alive, fingerprint_groups, plain_label, visible,
)
from .words import local_time, utc_text

if TYPE_CHECKING:
    from ..core.reader import OpenedMessage

fingerprint_lines = fingerprint_groups  # the old name


class OpenView(StudyOpening, OpenSaving, QWidget):
    """The "Open message" tab.

    Public API: ``open_file(path)``, ``open_files(paths)`` (several: the parts of a study,
    :mod:`.open_parts`), ``choose_file()``, ``save_attachment(index)``,
    ``save_all()``, ``is_busy()``, ``opened`` (the last :class:`OpenedMessage` or None),
    ``path``; signals ``message_opened(object)``, ``failed(str)`` and ``saved(list)``.
    """

    message_opened = Signal(object)
    failed = Signal(str)
    saved = Signal(list)

    def __init__(self, ctx: GuiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.path: Path | None = None
        self.opened: OpenedMessage | None = None
        self._passphrase: bytes | None = None  # of the shown message, for "Save"; dropped on the next open
        self._title: str | None = None  # shown instead of the path (a message from the Inbox tab)
        self._on_release: Callable[[], None] | None = None  # called when the shown message is replaced
        self._generation = 0
        self._busy = 0
        self._controls: list[Any] = []  # the tasks Cancel stops
        self._parts: tuple[Path, ...] = ()  # the messages of the study shown (open_parts)
        self._last_folder = ""
        self._build()

    # -- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.open_button = QPushButton(icon("open"), "&Open message...")
        self.open_button.setToolTip("Choose a message (.eml) you received; you can also drop it on the window (Ctrl+O)")
        self.open_button.setAccessibleName("Open message")
        self.open_button.clicked.connect(self.choose_file)
        self.file_label = plain_label("No message open. Choose one, or drop an .eml file on this window.")
        self.file_label.setAccessibleName("Message file")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(160)
        self.progress.setAccessibleName("Working")
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel")
        self.cancel_button.setToolTip("Stop (Esc); nothing is saved")
        self.cancel_button.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.file_label, 1)
        top.addWidget(self.progress)
        top.addWidget(self.cancel_button)

        self.verdict_banner = Banner(name="Security verdict")
        self.verdict_banner.label.setFont(_bold(self.verdict_banner.label.font()))
        self.verdict_details = plain_label()
        self.verdict_details.setAccessibleName("Security details")
        self.verdict_details.hide()
        self.technical = Details(name="Technical details")
        self.trust_button = QPushButton(icon("certificate"), "&Trust this sender's authority...")
        self.trust_button.setToolTip("The signature is valid, but no authority you trust vouches for the signer: "
                                     "check the fingerprint with them by phone, then trust their authority or only their certificate")
        self.trust_button.setAccessibleName("Trust the signer")
        self.trust_button.clicked.connect(self.trust_signer)
        self.trust_button.hide()

        self.headers = QGroupBox("Message")
        form = QFormLayout(self.headers)
        self.from_label, self.to_label, self.subject_label, self.date_label = (plain_label() for _ in range(4))
        for caption, label in (("From:", self.from_label), ("To:", self.to_label),
                               ("Subject:", self.subject_label), ("Date:", self.date_label)):
            label.setAccessibleName(caption.rstrip(":"))
            form.addRow(caption, label)
        self.headers.hide()

        self.body_view = QPlainTextEdit()
        self.body_view.setReadOnly(True)
        self.body_view.setUndoRedoEnabled(False)
        self.body_view.setAccessibleName("Message text")
        self.body_view.setToolTip("The message text, shown as plain text")
        self.body_view.setPlaceholderText("The message text appears here.")

        self.attachments_table = AttachmentsTable(self.save_attachment)
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shortcut = QShortcut(QKeySequence(key), self.attachments_table)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(self._save_current)
        self.save_all_button = QPushButton(icon("attach"), "Save &all...")
        self.save_all_button.setToolTip("Save every file of this message into a folder you choose")
        self.save_all_button.setAccessibleName("Save all attachments")
        self.save_all_button.clicked.connect(self.save_all)
        self.save_all_button.setEnabled(False)
        self.attachments_box = QGroupBox("Attachments")
        box = QVBoxLayout(self.attachments_box)
        box.addWidget(self.attachments_table)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_all_button)
        box.addLayout(buttons)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.body_view)
        splitter.addWidget(self.attachments_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        self.status_banner = Banner(name="Status")

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.verdict_banner)
        layout.addWidget(self.verdict_details)
        trust_row = QHBoxLayout()
        trust_row.addWidget(self.technical, 1)
        trust_row.addWidget(self.trust_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(trust_row)
        layout.addWidget(self.headers)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status_banner)
        self.setTabOrder(self.open_button, self.body_view)
        self.setTabOrder(self.body_view, self.attachments_table)
        self.setTabOrder(self.attachments_table, self.save_all_button)

    # -- opening -------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        return self._busy > 0

    def choose_file(self) -> None:
        """One message, or several: the parts of a study sent in several messages."""
        paths, _ = QFileDialog.getOpenFileNames(self, "Open message (or all parts of a study)", self._last_folder,
                                                "E-mail messages (*.eml);;All files (*)")
        if paths:
            self.open_files([Path(p) for p in paths])

    def cancel(self) -> None:
        """Stop opening or saving the parts of a study (nothing is kept)."""
        for control in self._controls:
            control.cancel()
        self.cancel_button.setEnabled(False)

    def open_file(self, path: Path) -> None:
        """Decrypt and check ``path`` on a worker thread; the result replaces what is shown."""
        path = Path(path)
        passphrase = self.ctx.identity_passphrase(self)
        if passphrase is None:
            self.status_banner.show_message(f"{path.name} was not opened: no passphrase was given.", CAUTION)
            return
        self._release()
        self._generation += 1
        generation = self._generation
        self.path, self.opened, self._passphrase, self._title = path, None, passphrase, None
        self._clear_message()
        self.file_label.setText(f"Opening {visible(str(path))} ...")
        self.status_banner.clear()
        request = services.OpenInput(message=path)
        ctx = self.ctx

        def work(_control: Any) -> tuple[OpenedMessage, dict[int, Looked], str]:
            return open_and_look(ctx, request, passphrase)

        self._start(work, lambda result: self._show(generation, *result), lambda message: self._open_failed(generation, message))

    def show_opened(self, path: Path, opened: OpenedMessage, passphrase: bytes, *, title: str,
                    on_release: Callable[[], None] | None = None) -> None:
        """Show a message opened elsewhere (the Inbox tab). ``path`` is its private copy, which
        Save reads; ``on_release`` runs once another message replaces it (to remove that copy)."""
        self._release()
        self._generation += 1
        self.path, self.opened, self._passphrase, self._title = Path(path), None, passphrase, title
        self._on_release = on_release
        self._clear_message()
        self.status_banner.clear()
        self._show(self._generation, opened)

    def _release(self) -> None:
        callback, self._on_release = self._on_release, None
        if callback is not None:
            callback()

    def _show(self, generation: int, opened: OpenedMessage, looked: dict[int, Looked] | None = None, part_note: str = "") -> None:
        if generation != self._generation:
            return
        self.opened = opened
        assert self.path is not None
        self.file_label.setText(self._title or visible(str(self.path)))
        level, headline, lines = verdict(opened)
        self.verdict_banner.show_message(headline, level)
        self.verdict_details.setText("\n".join(lines))
        self.verdict_details.setStyleSheet(f"color: {LEVEL_COLOURS[level]};")
        self.verdict_details.show()
        self.technical.set_text(technical_details(opened))
        self.trust_button.setVisible(trust_candidate(opened) is not None)
        self.from_label.setText(visible(opened.sender) or "(none)")
        self.to_label.setText(visible(", ".join(opened.to)) or "(none)")
        self.subject_label.setText(visible(opened.subject) or "(no subject)")
        self.date_label.setText(visible(local_time(opened.date)) if opened.date else "(none)")
        self.date_label.setToolTip(visible(utc_text(opened.date)) if opened.date else "")
        self.headers.show()
        if opened.body_text is not None:
            note = f"\n\n[{TRUNCATED_NOTE}]" if opened.body_truncated else ""
            self.body_view.setPlainText(visible(opened.body_text, multiline=True) + note)
        elif opened.encrypted and not opened.decrypted:
            self.body_view.setPlainText("")
            self.body_view.setPlaceholderText("The text cannot be shown: the message could not be decrypted.")
        else:
            self.body_view.setPlainText("")
            self.body_view.setPlaceholderText("This message has no text.")
        self._fill_attachments(opened, looked or {})
        if part_note:  # one part of a study sent in several messages
            self.status_banner.show_message(visible(part_note), CAUTION)
        self.message_opened.emit(opened)

    def _open_failed(self, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        name = self.path.name if self.path else "The message"
        self.file_label.setText(visible(str(self.path)) if self.path else "")
        self._passphrase = None
        self.verdict_banner.show_message(f"{visible(name)} could not be opened: {message}", PROBLEM)
        self.failed.emit(message)

    def _clear_message(self) -> None:
        self.study = None
        self.verdict_banner.clear()
        self.verdict_details.clear()
        self.verdict_details.hide()
        self.technical.set_text("")
        self.trust_button.hide()
        self.headers.hide()
        self.body_view.setPlainText("")
        self.body_view.setPlaceholderText("The message text appears here.")
        self.attachments_table.clear_files()
        self.attachments_box.setTitle("Attachments")  # not the previous message's count
        self.save_all_button.setEnabled(False)

    def _fill_attachments(self, opened: OpenedMessage, looked: dict[int, Looked]) -> None:
        self.attachments_table.fill(opened, looked)
        self.save_all_button.setEnabled(bool(opened.attachments))
        count = len(opened.attachments)
        self.attachments_box.setTitle(f"Attachments ({count})" if count else "Attachments (none)")

    # -- trusting the signer --------------------------------------------------------------------
    def trust_signer(self) -> None:
        """Offer to trust the authority of a valid signature nobody vouches for yet (or only the
        signer's certificate); after trusting, the message is checked again."""
        if self.opened is None or self.path is None:
            return
        signature = trust_candidate(self.opened)
        if signature is None:
            return
        from .trust_dialog import TrustDialog

        chain = tuple(c for c in signature.certificates if c != signature.signer)
        if TrustDialog.offer(self, self.ctx, signature.signer, chain, signature.signer_email or ""):
            self._reopen()

    # -- tasks ------------------------------------------------------------------------------------
    def _start(self, work: Callable[[Any], Any], done: Callable[[Any], None], error: Callable[[str], None], *,
               progress: Callable[[int, int], None] | None = None, cancellable: bool = False) -> None:
        self._busy += 1
        self.progress.setRange(0, 0)
        self.progress.show()
        control: list[Any] = []

        def finish() -> bool:
            if not alive(self):
                return False
            self._busy -= 1
            self.progress.setVisible(self._busy > 0)
            if control and control[0] in self._controls:
                self._controls.remove(control[0])
            self.cancel_button.setVisible(bool(self._controls))
            if not self._busy:
                self.progress.setRange(0, 0)
            return True

        control.append(self.ctx.tasks.run(
            work,
            on_done=lambda result: finish() and done(result),
            on_error=lambda message: finish() and error(message),
            on_progress=(lambda d, t: alive(self) and progress(d, t)) if progress is not None else None,
        ))
        if cancellable:
            self._controls.append(control[0])
            self.cancel_button.setEnabled(True)
            self.cancel_button.show()


def _bold(font: QFont) -> QFont:
    font.setBold(True)
    return font


__all__ = ["OpenView", "Banner", "visible", "verdict", "human_size", "plain_label", "alive", "fingerprint_lines", "open_and_look"]
