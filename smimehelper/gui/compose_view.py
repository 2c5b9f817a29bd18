"""The Compose tab: write a signed and encrypted message with x-rays and other files, then send it,
hand it to the user's mail program, or save it as an .eml file.

Everything slow (checking certificates, reading files for thumbnails, building, encrypting and
sending the message) runs on the task runner; the window never freezes, and building or sending
can be cancelled. The message itself is built only by ``services.compose_message``: this module
collects what the user typed and shows what happened, in plain words.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, QStandardPaths, Qt
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QIcon,
    QImage,
    QImageReader,
    QKeySequence,
    QPixmap,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from ..core.display import human_size
from .. import services
from ..core.cert_status import Status
from ..core.dicom import patient_identifiers
from ..core.errors import UserError
from ..core.mime.sniff import sniff_file
from ..core.privacy import SUBJECT_NOT_ENCRYPTED, subject_warnings
from ..core.transport import handoff
from ..core.transport.accounts import DEFAULT_SIZE_LIMIT, Account
from ..core.transport.delivery import Delivered
from ..core.transport.outbox import OutboxItem
from .context import GuiContext
from .recipients import RecipientField, StatusBook
from .style import STATUS_COLOURS, icon
from .tasks import TaskControl

THUMBNAIL_SIZE = 48
BASE64_GROWTH = 1.37
"""Base64 makes 3 bytes into 4 plus line ends: each layer grows the data by about 37%."""
MESSAGE_OVERHEAD = 8 * 1024
"""Headers, MIME structure, signature and certificates: a few KB."""
_SENDING = -1  # progress(_SENDING, _SENDING): the message is built, now it goes to the server

GREEN = STATUS_COLOURS["valid"]
AMBER = STATUS_COLOURS["revocation_unknown"]
RED = STATUS_COLOURS["missing"]

_IMAGE_TYPES = {"image/jpeg", "image/png", "image/tiff"}
_TYPE_NAMES = {
    "application/dicom": "DICOM image (x-ray)",
    "image/jpeg": "JPEG image",
    "image/png": "PNG image",
    "image/tiff": "TIFF image",
    "application/pdf": "PDF document",
    "application/zip": "ZIP archive",
    "text/plain": "Text",
    "text/csv": "Table (CSV)",
    "application/xml": "XML file",
    "text/xml": "XML file",
    "application/octet-stream": "File",
}

NO_ACCOUNT = (
    "No mail account is set up, so smimehelper cannot send the message itself. Click "
    '"Open in mail program" to send it with Outlook, Thunderbird or Apple Mail, or '
    '"Save .eml..." to keep it as a file.'
)
NO_IDENTITY = (
    "You have not imported your own certificate yet, so messages cannot be signed or encrypted. "
    'Import it in "My certificates" first.'
)
REQUEST_SUBJECT = "Request: your certificate for encrypted e-mail"
REQUEST_BODY = """Hello,

I would like to send you patient documents such as x-rays by encrypted e-mail, as data
protection requires. For that I need your e-mail certificate (S/MIME).

Please reply to this message with a signed e-mail: in Outlook, Thunderbird or Apple Mail,
switch on "Sign" for your reply. Your certificate travels with every signed e-mail, so I can
then send you encrypted messages.

This message is signed too, so it already carries my certificate: you can send me encrypted
e-mail right away.

If you have no e-mail certificate yet, your IT provider or a certificate authority can issue
one; for e-mail they are often free.

Thank you and best regards
"""




def estimate_message_size(attachment_bytes: int, body_bytes: int, *, encrypt: bool) -> int:
    """About how large the finished message is: the files are base64-encoded in the signed
    message and the encrypted message is base64-encoded again."""
    growth = BASE64_GROWTH * (BASE64_GROWTH if encrypt else 1.0)
    return int((attachment_bytes + body_bytes) * growth) + MESSAGE_OVERHEAD


@dataclass
class Attachment:
    path: Path
    size: int
    content_type: str | None = None  # None until the file was looked at
    identifiers: tuple[str, ...] = ()  # patient name, ID, birth date of a DICOM file
    item: QTreeWidgetItem | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Inspected:
    path: Path
    content_type: str
    image: QImage | None
    identifiers: tuple[str, ...]


def inspect_file(path: Path) -> Inspected:
    """Type, thumbnail and patient identifiers of one file (runs on the task runner)."""
    try:
        content_type = sniff_file(path)
    except OSError:
        return Inspected(path, "unreadable", None, ())
    image = None
    if content_type in _IMAGE_TYPES:
        reader = QImageReader(str(path))
        reader.setAutoTransform(True)
        size = reader.size()
        if size.isValid() and (size.width() > THUMBNAIL_SIZE or size.height() > THUMBNAIL_SIZE):
            reader.setScaledSize(size.scaled(THUMBNAIL_SIZE, THUMBNAIL_SIZE, Qt.AspectRatioMode.KeepAspectRatio))
        read = reader.read()
        if not read.isNull():
            image = read.scaled(
                THUMBNAIL_SIZE, THUMBNAIL_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
    identifiers = patient_identifiers(path) if content_type == "application/dicom" else ()
    return Inspected(path, content_type, image, identifiers)


@dataclass(frozen=True)
class SendReport:
    outcome: services.ComposeOutcome
    items: tuple[OutboxItem, ...]
    delivered: tuple[Delivered, ...]

    @property
    def all_sent(self) -> bool:
        return bool(self.delivered) and all(d.item.state == "sent" for d in self.delivered)


@dataclass(frozen=True)
class DraftReport:
    outcome: services.ComposeOutcome
    draft: Path


class ComposeView(QWidget):
    """Write, then Send / Open in mail program / Save .eml. See the module docstring."""

    def __init__(self, ctx: GuiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setAcceptDrops(True)
        self.setAccessibleName("Compose a message")
        self._attachments: list[Attachment] = []
        self._book: StatusBook | None = None
        self._book_generation = 0
        self._online_checked: set[str] = set()
        self._control: TaskControl | None = None
        self._cancel_requested = False
        self._limit = DEFAULT_SIZE_LIMIT
        self._limit_source = ""
        self.last_outcome: services.ComposeOutcome | None = None
        self.last_report: SendReport | DraftReport | None = None
        self._build()
        self.refresh()

    # == layout ====================================================================================
    def _build(self) -> None:
        outer = QVBoxLayout(self)
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

        files = QGroupBox("Attachments")
        files_layout = QVBoxLayout(files)
        hint = QLabel("Drop x-rays and other files (or whole folders) anywhere here, or click Add files.")
        hint.setWordWrap(True)
        files_layout.addWidget(hint)
        self.attachment_list = QTreeWidget()
        self.attachment_list.setColumnCount(3)
        self.attachment_list.setHeaderLabels(["Name", "Size", "Type"])
        self.attachment_list.setRootIsDecorated(False)
        self.attachment_list.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.attachment_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.attachment_list.setAccessibleName("Attached files")
        self.attachment_list.setToolTip("The files sent with the message (encrypted). Del removes the selected ones.")
        header = self.attachment_list.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        files_label = QLabel("Files to sen&d:")
        files_label.setBuddy(self.attachment_list)
        files_layout.addWidget(files_label)
        files_layout.addWidget(self.attachment_list, 1)
        remove_shortcut = QShortcut(QKeySequence.StandardKey.Delete, self.attachment_list)
        remove_shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        remove_shortcut.activated.connect(self.remove_selected_attachments)
        row = QHBoxLayout()
        self.add_button = QPushButton("&Add files...")
        self.add_button.setToolTip("Choose x-rays, DICOM files, photos or documents to send")
        self.add_button.clicked.connect(self._choose_files)
        self.remove_button = QPushButton("&Remove")
        self.remove_button.setToolTip("Remove the selected files from the message (the files themselves stay)")
        self.remove_button.clicked.connect(self.remove_selected_attachments)
        self.remove_button.setEnabled(False)
        self.attachment_list.itemSelectionChanged.connect(
            lambda: self.remove_button.setEnabled(bool(self.attachment_list.selectedItems()) and not self.busy())
        )
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        self.size_label = QLabel()
        self.size_label.setAccessibleName("Estimated message size")
        self.size_label.setWordWrap(True)
        row.addWidget(self.size_label, 2)
        files_layout.addLayout(row)
        outer.addWidget(files, 2)

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
        outer.addWidget(self.progress_area)

        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setAccessibleName("Result")
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.result_label.hide()
        outer.addWidget(self.result_label)
        for label in (self.from_label, self.subject_note, self.subject_warning, self.encrypt_note, self.size_label,
                      self.progress_label, self.result_label):
            label.setTextFormat(Qt.TextFormat.PlainText)  # addresses like <bob@example.org> are text, not HTML

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.save_button = QPushButton("Sa&ve .eml...")
        self.save_button.setToolTip("Save the signed and encrypted message as a file (.eml) to send or archive later")
        self.save_button.clicked.connect(self.save_eml)
        self.open_button = QPushButton("Open in mai&l program")
        self.open_button.setToolTip(
            "Open the finished, encrypted message as a draft in your own mail program (Outlook, "
            "Thunderbird, Apple Mail) and send it from there"
        )
        self.open_button.clicked.connect(self.open_in_mail_program)
        self.send_button = QPushButton(icon("send"), "&Send")
        self.send_button.setToolTip("Sign, encrypt and send the message through your mail account")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        for button in (self.save_button, self.open_button, self.send_button):
            button.setAccessibleName(button.text().replace("&", ""))
            buttons.addWidget(button)
        outer.addLayout(buttons)
        self.add_button.setAccessibleName("Add files")
        self.remove_button.setAccessibleName("Remove selected files")
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
        known = {a.path for a in self._attachments}
        added: list[Attachment] = []
        problems: list[str] = []
        for path in self._expand(paths, problems):
            path = path.resolve()
            if path in known:
                continue
            try:
                size = path.stat().st_size
            except OSError as exc:
                problems.append(f"{path.name} cannot be read ({exc.strerror}).")
                continue
            attachment = Attachment(path, size)
            attachment.item = self._new_item(attachment)
            self._attachments.append(attachment)
            known.add(path)
            added.append(attachment)
        if problems:
            self._show("error", "Not attached: " + " ".join(problems))
        self._update_size()
        if added:
            wanted = [a.path for a in added]
            self.ctx.tasks.run(
                lambda _control: [inspect_file(p) for p in wanted],
                on_done=self._guard(self._inspected),
                on_error=self._guard(lambda message: self._show("error", message)),
            )

    def attachments(self) -> list[Path]:
        return [a.path for a in self._attachments]

    def attachment(self, path: Path) -> Attachment | None:
        return next((a for a in self._attachments if a.path == Path(path).resolve()), None)

    def remove_attachments(self, paths: Sequence[Path]) -> None:
        gone = {Path(p).resolve() for p in paths}
        for attachment in [a for a in self._attachments if a.path in gone]:
            self._attachments.remove(attachment)
            if attachment.item is not None:
                index = self.attachment_list.indexOfTopLevelItem(attachment.item)
                if index >= 0:
                    self.attachment_list.takeTopLevelItem(index)
        self._update_size()
        self._update_subject_warning()

    def remove_selected_attachments(self) -> None:
        if self.busy():
            return
        selected = {id(i) for i in self.attachment_list.selectedItems()}
        self.remove_attachments([a.path for a in self._attachments if id(a.item) in selected])

    def estimated_size(self) -> int:
        body = len(self.body_edit.toPlainText().encode("utf-8"))
        return estimate_message_size(sum(a.size for a in self._attachments), body, encrypt=self.encrypt_box.isChecked())

    def size_limit(self) -> int:
        return self._limit

    def over_limit(self) -> bool:
        return self.estimated_size() > self._limit

    def subject_warning_text(self) -> str:
        return self.subject_warning.text() if not self.subject_warning.isHidden() else ""

    def busy(self) -> bool:
        return self._control is not None

    def cancel(self) -> None:
        """Stop building the message (and do not send it)."""
        if self._control is None:
            return
        self._cancel_requested = True
        self._control.cancel()
        self.cancel_button.setEnabled(False)
        self.progress_label.setText("Cancelling...")

    def clear_message(self) -> None:
        """Empty the form for the next message (the Sign and Encrypt choices stay)."""
        self.to_field.clear()
        self.cc_field.clear()
        self.subject_edit.clear()
        self.body_edit.clear()
        self.remove_attachments(self.attachments())

    def ask_account_password(self, account: Account) -> bytes | None:
        """Asked when the system keyring does not hold the mail password; None = cancelled."""
        return self.ctx.ask_secret(
            self, "Mail account", f"Password for your mail account {account.username} on {account.smtp_host}:"
        )

    # -- the three ways out -----------------------------------------------------------------------
    def send(self) -> None:
        """Build the message and send it through the mail account, all in one background task."""
        if self.busy():
            return
        stores = self.ctx.stores()
        accounts = stores.accounts.list()
        if not accounts:
            self._show("error", NO_ACCOUNT)
            return
        request = self._request()
        if request is None:
            return
        account = self._account(stores, accounts)
        assert account is not None
        secret = self._passphrase(stores, request.sign)
        if secret is None:
            return
        password = self._password(stores, account)
        if password is None:
            return
        ctx = self.ctx

        def work(control: TaskControl) -> SendReport:
            return _compose_and_send(ctx, request, secret, password, account, control)

        self._run("Building the encrypted message...", work, self._sent)

    def open_in_mail_program(self) -> None:
        """Build the message and open it as a draft in the system's mail program."""
        if self.busy():
            return
        request = self._request()
        if request is None:
            return
        stores = self.ctx.stores()
        secret = self._passphrase(stores, request.sign)
        if secret is None:
            return
        ctx = self.ctx

        def work(control: TaskControl) -> DraftReport:
            stores = ctx.stores()
            drafts = stores.home / "drafts"
            drafts.mkdir(parents=True, exist_ok=True, mode=0o700)
            target = _unique(drafts, f"message-{dt.datetime.now():%Y%m%d-%H%M%S}", ".eml")
            with tempfile.TemporaryDirectory(prefix="smimehelper-") as folder:
                outcome = _compose(stores, replace(request, out=Path(folder) / "message.eml"), secret, control)
                handoff.write_draft(outcome.result.path, target)
            handoff.open_with_system(target)
            return DraftReport(outcome, target)

        self._run("Building the encrypted message...", work, self._drafted)

    def save_eml(self) -> None:
        """Build the message into a file the user chooses."""
        if self.busy():
            return
        request = self._request()
        if request is None:
            return
        stores = self.ctx.stores()
        if not stores.identities.list():
            self._show("error", NO_IDENTITY)
            return
        start = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or Path.home())
        chosen, _filter = QFileDialog.getSaveFileName(
            self, "Save the message", str(start / "encrypted-message.eml"), "E-mail messages (*.eml);;All files (*)"
        )
        if not chosen:
            return
        out = Path(chosen)
        if not out.suffix:
            out = out.with_suffix(".eml")
        secret = self._passphrase(stores, request.sign)
        if secret is None:
            return
        ctx = self.ctx
        request = replace(request, out=out)

        def work(control: TaskControl) -> services.ComposeOutcome:
            return _compose(ctx.stores(), request, secret, control)

        self._run("Building the encrypted message...", work, self._saved)

    def ask_for_certificate(self, email: str) -> None:
        """Send (or save) a signed, unencrypted message asking ``email`` for their certificate."""
        if self.busy():
            return
        stores = self.ctx.stores()
        request = services.ComposeInput(
            sender=None, to=(email,), subject=REQUEST_SUBJECT, body=REQUEST_BODY, sign_key=None,
            out=Path("request.eml"), sign=True, encrypt=False,
        )
        accounts = stores.accounts.list()
        if accounts:
            account = self._account(stores, accounts)
            assert account is not None
            secret = self._passphrase(stores, True)
            if secret is None:
                return
            password = self._password(stores, account)
            if password is None:
                return
            ctx = self.ctx

            def send_work(control: TaskControl) -> SendReport:
                return _compose_and_send(ctx, request, secret, password, account, control)

            self._run(f"Asking {email} for their certificate...", send_work, lambda report: self._asked(email, report))
            return
        if not stores.identities.list():
            self._show("error", NO_IDENTITY)
            return
        start = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or Path.home())
        chosen, _filter = QFileDialog.getSaveFileName(
            self, f"Save the request to {email}", str(start / f"certificate-request-{email}.eml"),
            "E-mail messages (*.eml);;All files (*)",
        )
        if not chosen:
            return
        secret = self._passphrase(stores, True)
        if secret is None:
            return
        ctx = self.ctx
        request = replace(request, out=Path(chosen))

        def save_work(control: TaskControl) -> services.ComposeOutcome:
            return _compose(ctx.stores(), request, secret, control)

        self._run(f"Writing the request to {email}...", save_work, lambda outcome: self._request_saved(email, outcome))

    # == drag and drop ============================================================================
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

    def _account(self, stores: services.Stores, accounts: list[Account]) -> Account | None:
        """The account of your certificate's address, else the first one."""
        if not accounts:
            return None
        own = {e for i in stores.identities.list() for e in i.emails}
        return next((a for a in accounts if a.email in own), accounts[0])

    def _passphrase(self, stores: services.Stores, sign: bool) -> bytes | None:
        if not stores.identities.list():
            self._show("error", NO_IDENTITY)
            return None
        if not sign:
            return b""
        secret = self.ctx.identity_passphrase(self)
        if secret is None:
            self._show("info", "Nothing was done: your passphrase is needed to sign the message.")
        return secret

    def _password(self, stores: services.Stores, account: Account) -> bytes | None:
        password = stores.accounts.password(account) or self.ask_account_password(account)
        if password is None:
            self._show("info", "Nothing was sent: the password of your mail account is needed to send.")
        return password

    def _request(self) -> services.ComposeInput | None:
        """What the user wrote, checked for the mistakes the form can see; None after an error."""
        invalid = self.to_field.invalid_entries() + self.cc_field.invalid_entries()
        if invalid:
            self._show("error", f"Not an e-mail address: {', '.join(invalid)}. Write addresses like bob@example.org.")
            return None
        to, cc = tuple(self.to_field.entries()), tuple(self.cc_field.entries())
        if not to:
            self._show("error", "Add at least one recipient in To.")
            self.to_field.edit.setFocus()
            return None
        sign, encrypt = self.sign_box.isChecked(), self.encrypt_box.isChecked()
        if not sign and not encrypt:
            self._show("error", "Choose Sign, Encrypt or both: otherwise use your usual mail program.")
            return None
        return services.ComposeInput(
            sender=None, to=to, cc=cc, subject=self.subject_edit.text().strip(), body=self.body_edit.toPlainText(),
            sign_key=None, out=Path("message.eml"), attachments=tuple(self.attachments()), sign=sign, encrypt=encrypt,
        )

    def _run(self, what: str, work: Callable[[TaskControl], Any], on_done: Callable[[Any], None]) -> None:
        self._set_busy(True, what)

        def done(result: Any) -> None:
            self._set_busy(False)
            on_done(result)

        def failed(message: str) -> None:
            cancelled = self._cancel_requested
            self._set_busy(False)
            self._show("info" if cancelled else "error", message)

        self._control = self.ctx.tasks.run(
            work, on_done=self._guard(done), on_error=self._guard(failed), on_progress=self._guard(self._progress)
        )

    def _set_busy(self, busy: bool, what: str = "") -> None:
        if not busy:
            self._control = None
        self._cancel_requested = False
        for widget in (self.send_button, self.open_button, self.save_button, self.add_button):
            widget.setEnabled(not busy)
        self.remove_button.setEnabled(not busy and bool(self.attachment_list.selectedItems()))
        self.progress_area.setVisible(busy)
        if busy:
            self.result_label.hide()
            self.cancel_button.setEnabled(True)
            self.progress_bar.setRange(0, 0)  # busy until the first progress report
            self.progress_bar.setValue(0)
            self.progress_label.setText(what)

    def _progress(self, done: int, total: int) -> None:
        if self._control is None:
            return
        if total == _SENDING:
            self.progress_bar.setRange(0, 0)
            self.progress_label.setText("Sending to your mail server...")
            self.cancel_button.setEnabled(False)  # the message is on its way: it cannot be called back
            return
        if total <= 0:
            return
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(min(1000, int(done * 1000 / total)))
        if not self._cancel_requested:
            self.progress_label.setText(f"Encrypting the files: {human_size(done)} of {human_size(total)}")

    def _show(self, kind: str, text: str) -> None:
        colour = {"ok": GREEN, "warn": AMBER, "error": RED}.get(kind)
        self.result_label.setProperty("kind", kind)
        self.result_label.setStyleSheet(f"color: {colour};" if colour else "")
        self.result_label.setText(text)
        self.result_label.setAccessibleDescription(text)
        self.result_label.show()

    def result_text(self) -> str:
        return self.result_label.text() if not self.result_label.isHidden() else ""

    def result_kind(self) -> str:
        return str(self.result_label.property("kind") or "")

    @staticmethod
    def _describe(outcome: services.ComposeOutcome) -> list[str]:
        result = outcome.result
        lines = []
        if result.signed:
            lines.append("Signed with your certificate.")
        if result.encrypted:
            lines.append(f"Encrypted ({result.cipher}) so that only these can read it: {', '.join(result.recipients)}.")
        else:
            lines.append("Not encrypted.")
        lines += [f"Note: {w}" for w in outcome.warnings]
        return lines

    def _sent(self, report: SendReport) -> None:
        self.last_outcome, self.last_report = report.outcome, report
        lines = [d.message for d in report.delivered]
        recipients = ", ".join(dict.fromkeys(r for item in report.items for r in item.recipients))
        if report.all_sent:
            head = f"Sent to {recipients} ({human_size(report.outcome.result.size)})."
        else:
            head = f"Not everything was sent to {recipients}. The message waits in the Outbox."
        self._show("ok" if report.all_sent and not report.outcome.warnings else "warn",
                   "\n".join([head, *lines, *self._describe(report.outcome)]))
        if report.all_sent:
            self.clear_message()

    def _drafted(self, report: DraftReport) -> None:
        self.last_outcome, self.last_report = report.outcome, report
        self._show("warn" if report.outcome.warnings else "ok", "\n".join([
            f"Opened the message in your mail program as a draft ({report.draft}). Send it from there.",
            *self._describe(report.outcome),
        ]))

    def _saved(self, outcome: services.ComposeOutcome) -> None:
        self.last_outcome, self.last_report = outcome, None
        self._show("warn" if outcome.warnings else "ok", "\n".join([
            f"Saved the message to {outcome.result.path} ({human_size(outcome.result.size)}).",
            *self._describe(outcome),
        ]))

    def _asked(self, email: str, report: SendReport) -> None:
        self.last_outcome, self.last_report = report.outcome, report
        lines = [d.message for d in report.delivered]
        if report.all_sent:
            head = f"Asked {email} for their certificate. When they reply with a signed e-mail, open it: their certificate is then added to your contacts."
        else:
            head = f"The request to {email} was not sent yet; it waits in the Outbox."
        self._show("ok" if report.all_sent else "warn", "\n".join([head, *lines]))

    def _request_saved(self, email: str, outcome: services.ComposeOutcome) -> None:
        self.last_outcome, self.last_report = outcome, None
        self._show("ok", (
            f"Saved the request to {outcome.result.path}. Send it to {email} from your mail program (it is "
            "signed, not encrypted). When they reply with a signed e-mail, open it: their certificate is then "
            "added to your contacts."
        ))

    # -- recipients -----------------------------------------------------------------------------
    def _load_statuses(self) -> None:
        self._book_generation += 1
        generation = self._book_generation
        ctx = self.ctx

        def work(_control: TaskControl) -> StatusBook:
            stores = ctx.stores()
            rows = services.list_contacts(stores, fetch=False)
            own = [e for i in stores.identities.list() for e in i.emails]
            return StatusBook.from_rows(rows, own, stores.strict_revocation())

        def done(book: StatusBook) -> None:
            if generation != self._book_generation:
                return
            self._book = book
            self._online_checked = set()
            for recipients in (self.to_field, self.cc_field):
                recipients.set_completions(book.addresses())
                recipients.set_book(book)
            self._check_online()

        self.ctx.tasks.run(work, on_done=self._guard(done), on_error=self._guard(lambda m: self._show("error", m)))

    def _recipients_changed(self) -> None:
        self._check_online()

    def _check_online(self) -> None:
        """Revocation of the recipients' certificates, checked online, one address at a time."""
        book = self._book
        if book is None:
            return
        emails = [e for e in self.to_field.emails() + self.cc_field.emails() if e not in self._online_checked]
        for email in dict.fromkeys(emails):
            if not any(s.status is Status.REVOCATION_UNKNOWN for s in book.statuses.get(email, [])):
                continue  # valid, or a problem no online check can cure
            self._online_checked.add(email)
            generation, ctx = self._book_generation, self.ctx

            def work(_control: TaskControl, email: str = email) -> tuple[str, list[Any]]:
                rows = services.list_contacts(ctx.stores(), fetch=True, address=email)
                return email, [r.status for r in rows]

            def done(result: tuple[str, list[Any]], generation: int = generation) -> None:
                if generation != self._book_generation or self._book is None:
                    return
                address, statuses = result
                self._book.update(address, statuses)
                for recipients in (self.to_field, self.cc_field):
                    recipients.set_book(self._book)

            self.ctx.tasks.run(work, on_done=self._guard(done))

    # -- subject, size, attachments ---------------------------------------------------------------
    def _update_subject_warning(self) -> None:
        terms = tuple(t for a in self._attachments for t in a.identifiers)
        warnings = subject_warnings(self.subject_edit.text(), terms)
        self.subject_warning.setText("\n".join(warnings))
        self.subject_warning.setVisible(bool(warnings))
        self.subject_note.setVisible(not warnings)

    def _update_encrypt_note(self, encrypt: bool) -> None:
        self.encrypt_note.setVisible(not encrypt)

    def _update_size(self) -> None:
        size = self.estimated_size()
        count = len(self._attachments)
        files = f"{count} file{'s' if count != 1 else ''}, {human_size(sum(a.size for a in self._attachments))}"
        text = f"{files}. The message will be about {human_size(size)}; limit {human_size(self._limit)} ({self._limit_source})."
        over = size > self._limit
        if over:
            text += " Too large: send fewer files per message."
        self.size_label.setText(text)
        self.size_label.setProperty("over", over)
        self.size_label.setStyleSheet(f"color: {RED}; font-weight: bold;" if over else "")
        self.size_label.setToolTip(
            "Encrypted mail is about 1.9 times the size of the files (two layers of base64 encoding). "
            "Mail servers refuse messages over their limit."
        )

    def _expand(self, paths: Sequence[Path], problems: list[str]) -> list[Path]:
        found: list[Path] = []
        for path in paths:
            path = Path(path)
            if path.is_dir():
                found += sorted(
                    p for p in path.rglob("*")
                    if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            elif path.is_file():
                found.append(path)
            else:
                problems.append(f"{path.name or path} does not exist or is not a file.")
        return found

    def _new_item(self, attachment: Attachment) -> QTreeWidgetItem:
        item = QTreeWidgetItem([attachment.path.name, human_size(attachment.size), "checking..."])
        item.setIcon(0, self._generic_icon())
        item.setToolTip(0, str(attachment.path))
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.attachment_list.addTopLevelItem(item)
        return item

    def _generic_icon(self) -> QIcon:
        themed = icon("file")
        return themed if not themed.isNull() else self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon)

    def _inspected(self, results: list[Inspected]) -> None:
        by_path = {a.path: a for a in self._attachments}
        for found in results:
            attachment = by_path.get(found.path)
            if attachment is None or attachment.item is None:
                continue  # removed meanwhile
            attachment.content_type = found.content_type
            attachment.identifiers = found.identifiers
            name = "Cannot be read" if found.content_type == "unreadable" else _TYPE_NAMES.get(found.content_type, found.content_type)
            attachment.item.setText(2, name)
            attachment.item.setToolTip(2, found.content_type)
            if found.image is not None:
                attachment.item.setIcon(0, QIcon(QPixmap.fromImage(found.image)))
        self._update_subject_warning()

    def _choose_files(self) -> None:
        chosen, _filter = QFileDialog.getOpenFileNames(self, "Add files to the message", "", "All files (*)")
        if chosen:
            self.add_attachments([Path(p) for p in chosen])


def _unique(folder: Path, stem: str, suffix: str) -> Path:
    candidate = folder / f"{stem}{suffix}"
    counter = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{counter}{suffix}"
        counter += 1
    return candidate


def _compose(stores: services.Stores, request: services.ComposeInput, secret: bytes, control: TaskControl) -> services.ComposeOutcome:
    return services.compose_message(
        request, lambda _prompt: secret, stores=stores, progress=control.progress, cancelled=control.cancelled
    )


def _compose_and_send(
    ctx: GuiContext, request: services.ComposeInput, secret: bytes, password: bytes, account: Account, control: TaskControl
) -> SendReport:
    """Build in a private temporary folder, put into the outbox, send (on the task runner)."""
    stores = ctx.stores()
    with tempfile.TemporaryDirectory(prefix="smimehelper-") as folder:
        outcome = _compose(stores, replace(request, out=Path(folder) / "message.eml"), secret, control)
        if control.cancelled():
            raise UserError("Cancelled. Nothing was sent.")
        control.progress(_SENDING, _SENDING)
        items = services.queue_composed(stores, outcome, account.email)
    delivered = services.send_messages(stores, items, lambda _account: password)
    return SendReport(outcome, tuple(items), tuple(delivered))
