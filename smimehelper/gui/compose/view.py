"""The Compose tab: write a signed and encrypted message with x-rays and other files, then send it,
hand it to Thunderbird (its Outbox), or save it as an .eml file.

Everything slow (checking certificates, reading files for thumbnails, building, encrypting and
sending the message) runs on the task runner; the window never freezes, and building or sending
can be cancelled. The message itself is built only by ``services.compose_message``: this package
collects what the user typed and shows what happened, in plain words. The form is here; the
attachments are :class:`.attachments.AttachmentPanel`; the ways out are :class:`.actions.ComposeActions`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QComboBox,
    QFrame,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from ... import services
from ...core.display import human_size
from ...core.privacy import SUBJECT_NOT_ENCRYPTED, subject_warnings
from ...core.transport.accounts import DEFAULT_SIZE_LIMIT
from ..context import GuiContext
from ..recipients import RecipientField, StatusBook
from ..style import icon
from ..tasks import TaskControl
from .actions import ComposeActions
from .ask import AskActions
from .checks import ComposeChecks
from .package import PackageActions
from .result import ResultArea
from .attachments import Attachment, AttachmentPanel
from .deid import PACKAGE_REFUSED, DeidentifyPanel
from .large import LargeMessages
from .shrink import ShrinkPanel
from .split_offer import SplitOffer
from .texts import NO_IDENTITY, PURPOSES, RED, estimate_message_size
from .work import SendReport


class ComposeView(PackageActions, AskActions, ComposeChecks, LargeMessages, ComposeActions, QWidget):
    """Write, then Send / Send with Thunderbird / Save .eml. See the module docstring."""

    def __init__(self, ctx: GuiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setAcceptDrops(True)
        self.setAccessibleName("Compose a message")
        self._book: StatusBook | None = None
        self._book_generation = 0
        self._online_checked: set[str] = set()
        self._control: TaskControl | None = None
        self._cancel_requested = False
        self._part, self._part_done = 0, -1  # which message of a split study is being encrypted
        self._limit = DEFAULT_SIZE_LIMIT
        self._limit_source = ""
        self.last_outcome: services.ComposeOutcome | None = None
        self.last_report: SendReport | services.ComposedHandoff | None = None
        self.thunderbird_profile_dir: Path | None = None  # chosen by the user when Thunderbird has several
        self._build()
        self.refresh()


    # == layout ====================================================================================
    def _build(self) -> None:
        # The form scrolls (a study brings the patient-details table, "Make smaller" and the split
        # offer; a laptop screen is 768-800 pixels high); progress, result and buttons stay in view.
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        page = QWidget()
        outer = QVBoxLayout(page)
        self.scroller = QScrollArea()
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setWidget(page)
        root.addWidget(self.scroller, 1)
        self.from_label = QLabel()
        self.from_label.setAccessibleName("Sender")
        self.from_label.setWordWrap(True)
        outer.addWidget(self.from_label)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.to_field = RecipientField("To", "Recipients, separated by commas, e.g. bob@example.org")
        self.to_field.edit.setToolTip(
            "Who receives the message. Addresses from your contacts are completed as you type; "
            "each recipient shows whether the message can be encrypted to them."
        )
        to_label = QLabel("&To:")
        to_label.setBuddy(self.to_field.edit)
        form.addRow(to_label, self.to_field)
        self.cc_field = RecipientField("Copy to (Cc)", "Copy to (optional)")
        self.cc_field.edit.setToolTip("Who receives a copy. Every recipient sees the others' addresses.")
        cc_label = QLabel("Co&py (Cc):")
        cc_label.setBuddy(self.cc_field.edit)
        form.addRow(cc_label, self.cc_field)
        for recipients in (self.to_field, self.cc_field):
            recipients.changed.connect(self._recipients_changed)
            recipients.ask_certificate.connect(self.ask_for_certificate)
            recipients.send_package.connect(self.send_as_package)
            recipients.trust_requested.connect(self.trust_recipient)

        self.subject_edit = QLineEdit()
        self.subject_edit.setAccessibleName("Subject")
        self.subject_edit.setToolTip("The subject is NOT encrypted: keep patient names and dates of birth out of it.")
        self.subject_edit.setPlaceholderText("e.g. Radiographs for the referral we discussed")
        subject_label = QLabel("S&ubject:")
        subject_label.setBuddy(self.subject_edit)
        subject_box = QVBoxLayout()
        subject_box.setSpacing(2)
        subject_box.addWidget(self.subject_edit)
        self.subject_note = QLabel(SUBJECT_NOT_ENCRYPTED)
        self.subject_note.setWordWrap(True)
        self.subject_note.setAccessibleName("Note about the subject")
        self.subject_note.setStyleSheet("color: palette(placeholder-text);")
        subject_box.addWidget(self.subject_note)
        self.subject_warning = QLabel()
        self.subject_warning.setWordWrap(True)
        self.subject_warning.setAccessibleName("Subject warning")
        self.subject_warning.setStyleSheet(f"color: {RED}; font-weight: bold;")
        self.subject_warning.hide()
        subject_box.addWidget(self.subject_warning)
        form.addRow(subject_label, subject_box)
        self.purpose_edit = QComboBox()  # for the disclosure log: why these files are disclosed
        self.purpose_edit.setEditable(True)
        self.purpose_edit.addItems(PURPOSES)
        self.purpose_edit.setAccessibleName("Purpose of the disclosure")
        self.purpose_edit.setToolTip("Recorded in the disclosure log (not sent): why the patient's files are disclosed.")
        purpose_label = QLabel("Purpose (wh&y):")
        purpose_label.setBuddy(self.purpose_edit)
        form.addRow(purpose_label, self.purpose_edit)
        outer.addLayout(form)
        self.subject_edit.textChanged.connect(self._update_subject_warning)

        body_label = QLabel("Message te&xt (encrypted):")
        self.body_edit = QPlainTextEdit()
        self.body_edit.setAccessibleName("Message text")
        self.body_edit.setToolTip("The message text is encrypted together with the files.")
        self.body_edit.setTabChangesFocus(True)
        self.body_edit.setAcceptDrops(False)  # dropped files become attachments
        self.body_edit.setPlaceholderText("Patient details belong here: the text is encrypted, the subject is not.")
        body_label.setBuddy(self.body_edit)
        self.body_edit.textChanged.connect(self._update_size)
        outer.addWidget(body_label)
        outer.addWidget(self.body_edit, 2)

        self.files = AttachmentPanel(self.ctx.tasks)
        self.files.changed.connect(self._attachments_changed)
        self.files.problem.connect(lambda text: self._show("error", text))
        # The panel's parts, by the names the rest of the app and the tests know them by.
        self.attachment_list, self.add_button, self.remove_button = self.files.tree, self.files.add_button, self.files.remove_button
        self.size_label = self.files.size_label
        outer.addWidget(self.files, 2)
        self.deid = DeidentifyPanel(self.ctx.tasks)  # "Remove patient details" + before/after table
        self.files.changed.connect(lambda: self.deid.set_files(self.files.file_paths()))
        outer.addWidget(self.deid, 1)
        self.shrink = ShrinkPanel(self.ctx.tasks)  # "Make smaller (lossless)", the saving measured
        self.files.changed.connect(lambda: self.shrink.set_files(self.files.compressible()))
        self.shrink.changed.connect(self._update_size)
        outer.addWidget(self.shrink)
        self.split_offer = SplitOffer()  # too large: "Send as N messages"
        outer.addWidget(self.split_offer)

        options = QHBoxLayout()
        self.sign_box = QCheckBox("S&ign")
        self.sign_box.setChecked(True)
        self.sign_box.setToolTip("Sign with your certificate: the recipient sees that it really comes from you and was not changed.")
        self.encrypt_box = QCheckBox("&Encrypt")
        self.encrypt_box.setChecked(True)
        self.encrypt_box.setToolTip(
            "Encrypt the text and the files so that only the recipients (and you) can read them. "
            "Keep this on for anything about patients."
        )
        self.encrypt_box.toggled.connect(self._update_size)
        self.encrypt_box.toggled.connect(self._update_encrypt_note)
        options.addWidget(self.sign_box)
        options.addWidget(self.encrypt_box)
        self.encrypt_note = QLabel("Not encrypted: anyone handling the mail can read the text and the files.")
        self.encrypt_note.setStyleSheet(f"color: {RED};")
        self.encrypt_note.setAccessibleName("Encryption warning")
        self.encrypt_note.hide()
        options.addWidget(self.encrypt_note)
        options.addStretch(1)
        outer.addLayout(options)

        self.progress_area = QWidget()
        progress_row = QHBoxLayout(self.progress_area)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self.progress_label = QLabel()
        self.progress_label.setAccessibleName("What is happening")
        self.progress_bar = QProgressBar()
        self.progress_bar.setAccessibleName("Progress")
        self.progress_bar.setRange(0, 1000)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_button.setToolTip("Stop building the message (Esc); nothing is written or sent")
        self.cancel_button.setAccessibleName("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        progress_row.addWidget(self.progress_label)
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_area.hide()
        bottom = QVBoxLayout()
        bottom.setContentsMargins(9, 0, 9, 9)
        root.addLayout(bottom)
        bottom.addWidget(self.progress_area)

        self.result = ResultArea()
        self.result_label = self.result.label
        bottom.addWidget(self.result)
        for label in (self.from_label, self.subject_note, self.subject_warning, self.encrypt_note,
                      self.progress_label, self.result_label):
            label.setTextFormat(Qt.TextFormat.PlainText)  # addresses like <bob@example.org> are text, not HTML

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.save_button = QPushButton("Sa&ve .eml...")
        self.save_button.setToolTip("Save the signed and encrypted message as a file (.eml) to send or archive later")
        self.save_button.clicked.connect(self.save_eml)
        self.open_button = QPushButton("Send &with Thunderbird")
        self.open_button.setToolTip(
            "Put the finished, encrypted message into Thunderbird's Outbox and start Thunderbird; "
            "File > Send Unsent Messages there sends it unchanged. (Thunderbird must be closed.)"
        )
        self.open_button.clicked.connect(self.open_in_mail_program)
        self.send_button = QPushButton(icon("send"), "&Send")
        self.send_button.setToolTip("Sign, encrypt and send the message through your mail account")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        for button in (self.save_button, self.open_button, self.send_button):
            button.setAccessibleName(button.text().replace("&", ""))
            buttons.addWidget(button)
        bottom.addLayout(buttons)
        self.sign_box.setAccessibleName("Sign")
        self.encrypt_box.setAccessibleName("Encrypt")

        chain: list[QWidget] = [
            self.to_field.edit, self.cc_field.edit, self.subject_edit, self.body_edit, self.attachment_list,
            self.add_button, self.remove_button, self.sign_box, self.encrypt_box, self.cancel_button,
            self.save_button, self.open_button, self.send_button,
        ]
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)
        self._update_size()

    # == public ====================================================================================

    def refresh(self) -> None:
        """Reread your certificate and mail account; recheck the contacts' certificates."""
        stores = self.ctx.stores()
        identities = stores.identities.list()
        if identities:
            default = next((i for i in identities if i.is_default), identities[0])
            self.from_label.setText(f"From: {default.info.display_name} <{default.emails[0]}>")
            self.from_label.setToolTip("Messages are signed with this certificate of yours.")
        else:
            self.from_label.setText(NO_IDENTITY)
            self.from_label.setToolTip("")
        accounts = stores.accounts.list()
        account = self._account(stores, accounts)
        if account is not None:
            self._limit, self._limit_source = account.size_limit, f"your mail account {account.email}"
        else:
            self._limit, self._limit_source = DEFAULT_SIZE_LIMIT, "usual for mail servers"
        self._update_size()
        self._load_statuses()

    def add_attachments(self, paths: Sequence[Path]) -> None:
        """Attach files (folders: every file inside); their type and thumbnail follow shortly."""
        self.files.add(paths)

    def attachments(self) -> list[Path]:
        return self.files.paths()

    def send_as_package(self, email: str) -> None:  # a package would carry the originals
        if self.deid.switch.isChecked():
            self._show("error", PACKAGE_REFUSED)
            return
        super().send_as_package(email)

    @staticmethod
    def _describe(outcome: services.ComposeOutcome) -> list[str]:
        return [*outcome.notes, *ComposeActions._describe(outcome)]

    def attachment(self, path: Path) -> Attachment | None:
        return self.files.get(path)

    def remove_attachments(self, paths: Sequence[Path]) -> None:
        self.files.remove(paths)

    def remove_selected_attachments(self) -> None:
        self.files.remove_selected()

    def estimated_size(self) -> int:
        """About how large the one message would be, with the files as they travel."""
        body = len(self.body_edit.toPlainText().encode("utf-8"))
        return estimate_message_size(self.travelling_bytes(), body, encrypt=self.encrypt_box.isChecked())

    def size_limit(self) -> int:
        return self._limit

    def over_limit(self) -> bool:
        return self.estimated_size() > self._limit

    def subject_warning_text(self) -> str:
        return self.subject_warning.text() if not self.subject_warning.isHidden() else ""



    def clear_message(self) -> None:
        """Empty the form for the next message (the Sign and Encrypt choices stay)."""
        self.to_field.clear()
        self.cc_field.clear()
        self.subject_edit.clear()
        self.body_edit.clear()
        self.remove_attachments(self.attachments())


    @staticmethod
    def _dropped(event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> list[Path]:
        data = event.mimeData()
        if not data.hasUrls():
            return []
        return [Path(u.toLocalFile()) for u in data.urls() if u.isLocalFile()]

    def _wanted_drop(self, paths: list[Path]) -> bool:
        # A dropped .eml is a message to open: the main window takes it to the Open tab.
        return bool(paths) and not any(p.suffix.lower() == ".eml" for p in paths) and not self.busy()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt naming)
        if self._wanted_drop(self._dropped(event)):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if self._wanted_drop(self._dropped(event)):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = self._dropped(event)
        if not self._wanted_drop(paths):
            event.ignore()
            return
        self.add_attachments(paths)
        event.acceptProposedAction()

    # == internals ================================================================================
    def _guard(self, callback: Callable[..., None]) -> Callable[..., None]:
        """A callback that does nothing once this view is gone (a task may outlive it)."""

        def call(*args: Any) -> None:
            if isValid(self):
                callback(*args)

        return call


    # -- subject, size, attachments ---------------------------------------------------------------
    def _update_subject_warning(self) -> None:
        terms = self.files.identifiers()
        warnings = subject_warnings(self.subject_edit.text(), terms)
        self.subject_warning.setText("\n".join(warnings))
        self.subject_warning.setVisible(bool(warnings))
        self.subject_note.setVisible(not warnings)

    def _update_encrypt_note(self, encrypt: bool) -> None:
        self.encrypt_note.setVisible(not encrypt)

    def _attachments_changed(self) -> None:
        self._update_size()
        self._update_subject_warning()

    def _update_size(self) -> None:
        size = self.estimated_size()
        count = self.files.count()
        files = f"{count} file{'s' if count != 1 else ''}, {human_size(self.files.total_bytes())}"
        travelling = self.travelling_bytes()
        if travelling != self.files.total_bytes():
            files += f" ({human_size(travelling)} made smaller)"
        text = f"{files}. The message will be about {human_size(size)}; limit {human_size(self._limit)} ({self._limit_source})."
        over = size > self._limit
        if over:
            text += (" Too large for one message: see below." if count else
                     " Too large for one message: shorten the text, or save it as a file.")
        self.files.show_size(text, over)
        self._update_offer(size)
