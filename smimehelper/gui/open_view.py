"""Open a received message: the security verdict in plain words, the text and the files.

The verdict uses the command line's wording (``smimehelper open``), colour-coded: green when
everything checks out, red when a check failed, amber when there is nothing to check (neither
signed nor encrypted, or not signed). Everything the sender wrote (From, Subject, the text, file
names) is shown as plain text with control characters made visible; it is never rendered as
HTML. Decrypting and saving run on a worker thread; the passphrase is asked first, on the GUI
thread, and only when the key is protected by one.

Also home to the small pieces the other views share: :class:`Banner` and :func:`visible`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.display import TRUNCATED_NOTE, signature_sentence
from ..core.display import human_size, printable
from .. import services
from ..core.errors import PassphraseError
from ..core.reader import OpenedMessage, SignatureVerdict
from .context import GuiContext
from .style import icon

# -- shared helpers ---------------------------------------------------------------------------

GOOD, PROBLEM, CAUTION, INFO = "good", "problem", "caution", "info"
LEVEL_COLOURS = {GOOD: "#1b7f3b", PROBLEM: "#b3261e", CAUTION: "#9a6700", INFO: "#3c4a5c"}
LEVEL_ICONS = {GOOD: "ok", PROBLEM: "error", CAUTION: "warning"}
LEVEL_WORDS = {GOOD: "OK", PROBLEM: "Problem", CAUTION: "Caution", INFO: "Note"}

visible = printable  # the GUI's name for it; other views import it from here


def fingerprint_lines(fingerprint: str) -> str:
    """A colon-separated SHA-256 fingerprint in two lines of 16 bytes (fits narrow windows);
    ``text.replace("\n", ":")`` gives it back whole."""
    parts = fingerprint.split(":")
    half = (len(parts) + 1) // 2
    return ":".join(parts[:half]) + ("\n" + ":".join(parts[half:]) if parts[half:] else "")


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


def alive(widget: QWidget) -> bool:
    """False once Qt deleted the widget (a task may report after its view was closed)."""
    return shiboken6.isValid(widget)


class Banner(QFrame):
    """A coloured message line: green good, red problem, amber caution, grey information.

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
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.symbol, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.label, 1)
        self._name = name
        self.setAccessibleName(name)
        self.hide()

    def show_message(self, text: str, level: str = INFO) -> None:
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
        self.setAccessibleDescription(f"{LEVEL_WORDS.get(level, '')}: {text}")
        self.label.setAccessibleName(f"{self._name} ({LEVEL_WORDS.get(level, '')})")
        self.show()

    def clear(self) -> None:
        self.label.setText("")
        self.hide()

    def text(self) -> str:
        return self.label.text()


# -- the verdict in words ---------------------------------------------------------------------


def _signature_line(index: int, total: int, s: SignatureVerdict) -> str:
    return signature_sentence(index, total, s, emphasis=False)


def verdict(opened: OpenedMessage) -> tuple[str, str, list[str]]:
    """(level, headline, detail lines) for a message, in the command line's words."""
    lines: list[str] = []
    if not opened.encrypted:
        lines.append("Encryption: none (anyone who handled this message could read it).")
    elif opened.decrypted:
        weak = " This is an old, weak cipher: ask the sender to update their mail program." if opened.encryption_weak else ""
        lines.append(f"Encryption: encrypted ({opened.encryption}) and decrypted with your key.{weak}")
    else:
        lines.append(f"Encryption: encrypted, but it could not be decrypted. {visible(opened.decryption_problem)}")
    if not opened.signatures:
        lines.append("Signature: none (the sender is not proven).")
    for index, signature in enumerate(opened.signatures):
        lines.append(_signature_line(index, len(opened.signatures), signature))
    if not opened.all_good:
        if opened.encrypted and not opened.decrypted:
            headline = "This message could not be decrypted: it was not encrypted for your certificate, or it is damaged."
        else:
            headline = "Warning: a security check failed. Do not trust this message or its files."
        return PROBLEM, headline, lines
    if not opened.encrypted and not opened.signatures:
        return CAUTION, "Nothing to check: this message is neither signed nor encrypted, so its sender is not proven.", lines
    if not opened.signatures:
        return CAUTION, "Decrypted, but not signed: the sender is not proven.", lines
    signers = ", ".join(dict.fromkeys(visible(s.signer_email or s.signer_subject) for s in opened.signatures))
    if opened.encryption_weak:
        return CAUTION, f"Signed by {signers}, valid and trusted, but encrypted with an old, weak cipher.", lines
    protected = "signed and encrypted" if opened.encrypted else "signed (not encrypted)"
    return GOOD, f"Everything checks out: {protected}, valid and trusted, from {signers}.", lines


# -- the view -----------------------------------------------------------------------------------


class OpenView(QWidget):
    """The "Open message" tab.

    Public API: ``open_file(path)``, ``choose_file()``, ``save_attachment(index)``,
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
        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.file_label, 1)
        top.addWidget(self.progress)

        self.verdict_banner = Banner(name="Security verdict")
        self.verdict_banner.label.setFont(_bold(self.verdict_banner.label.font()))
        self.verdict_details = plain_label()
        self.verdict_details.setAccessibleName("Security details")
        self.verdict_details.hide()

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

        self.attachments_table = QTableWidget(0, 4)
        self.attachments_table.setHorizontalHeaderLabels(["File", "Type", "Size", ""])
        self.attachments_table.setAccessibleName("Attachments")
        self.attachments_table.setToolTip("The files in this message. Select one and press Enter, or use Save..., to save it")
        self.attachments_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.attachments_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.attachments_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.attachments_table.verticalHeader().hide()
        header = self.attachments_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.attachments_table.doubleClicked.connect(lambda index: self.save_attachment(index.row()))
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
        path, _ = QFileDialog.getOpenFileName(self, "Open message", self._last_folder,
                                              "E-mail messages (*.eml);;All files (*)")
        if path:
            self.open_file(Path(path))

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

        def work(_control: Any) -> OpenedMessage:
            return services.open_message_file(request, _asker(passphrase), stores=ctx.stores())

        self._start(work, lambda opened: self._show(generation, opened), lambda message: self._open_failed(generation, message))

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

    def _show(self, generation: int, opened: OpenedMessage) -> None:
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
        self.from_label.setText(visible(opened.sender) or "(none)")
        self.to_label.setText(visible(", ".join(opened.to)) or "(none)")
        self.subject_label.setText(visible(opened.subject) or "(no subject)")
        self.date_label.setText(visible(opened.date) or "(none)")
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
        self._fill_attachments(opened)
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
        self.verdict_banner.clear()
        self.verdict_details.clear()
        self.verdict_details.hide()
        self.headers.hide()
        self.body_view.setPlainText("")
        self.body_view.setPlaceholderText("The message text appears here.")
        self.attachments_table.setRowCount(0)
        self.save_all_button.setEnabled(False)

    def _fill_attachments(self, opened: OpenedMessage) -> None:
        table = self.attachments_table
        table.setRowCount(len(opened.attachments))
        for row, attachment in enumerate(opened.attachments):
            name = visible(attachment.filename)
            cells = (name, visible(attachment.content_type), human_size(attachment.size))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{name}\n{visible(attachment.content_type)}, {attachment.size} bytes\nSHA-256 {attachment.sha256}")
                table.setItem(row, column, item)
            button = QPushButton("Save...")
            button.setToolTip(f"Save {name} into a folder you choose")
            button.setAccessibleName(f"Save {name}")
            button.clicked.connect(lambda _checked=False, row=row: self.save_attachment(row))
            table.setCellWidget(row, 3, button)
        self.save_all_button.setEnabled(bool(opened.attachments))
        self.attachments_box.setTitle(f"Attachments ({len(opened.attachments)})" if opened.attachments else "Attachments (none)")
        if opened.attachments:
            table.selectRow(0)

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
        if self.opened is None or self.path is None or not 0 <= index < len(self.opened.attachments):
            return
        if not self._confirm_unsafe():
            return
        shown = self.opened.attachments[index]
        folder = self._choose_folder(f"Save {visible(shown.filename)} to folder")
        if folder is None:
            return
        request = services.OpenInput(message=self.path)
        passphrase = self._passphrase or b""
        ctx = self.ctx

        def work(_control: Any) -> list[Path]:
            return [services.save_attachment(request, index, shown, folder, _asker(passphrase), stores=ctx.stores())]

        self.status_banner.show_message(f"Saving {visible(shown.filename)} ...", INFO)
        self._start(work, self._saved, self._save_failed)

    def save_all(self) -> None:
        """Ask for a folder and save every attachment there."""
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

    # -- tasks ------------------------------------------------------------------------------------
    def _start(self, work: Callable[[Any], Any], done: Callable[[Any], None], error: Callable[[str], None]) -> None:
        self._busy += 1
        self.progress.show()

        def finish() -> bool:
            if not alive(self):
                return False
            self._busy -= 1
            self.progress.setVisible(self._busy > 0)
            return True

        self.ctx.tasks.run(
            work,
            on_done=lambda result: finish() and done(result),
            on_error=lambda message: finish() and error(message),
        )


def _asker(passphrase: bytes) -> Callable[[str], bytes]:
    def ask(_prompt: str) -> bytes:
        if not passphrase:
            raise PassphraseError("The passphrase for your certificate is needed; open the message again and give it.")
        return passphrase

    return ask


def _bold(font: QFont) -> QFont:
    font.setBold(True)
    return font


__all__ = ["OpenView", "Banner", "visible", "verdict", "human_size", "plain_label", "alive", "fingerprint_lines"]
