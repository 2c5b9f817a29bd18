"""The first-run assistant: your certificate, your mail account, and a self-test.

The main window opens it when no certificate has been imported yet (and from File > First-run
assistant). Three pages:

1. **Your certificate**: drop the .p12/.pfx on the page or choose it, type its passphrase,
   and see who it belongs to, its e-mail address, until when it is valid and who issued it.
   "Try with demo certificates" sets the data folder up with the throwaway certificates of
   ``smimehelper demo`` instead.
2. **Your mail account** (may be skipped with "Later"): the e-mail address comes from the
   certificate, the servers from the provider presets; "Test connection" logs in and quits.
3. **Self-test**: a short message signed and encrypted to yourself is opened again.

Everything slow (reading the certificate, the connection test, the self-test) runs on the
task runner, so the window never freezes. All real work is in :mod:`smimehelper.services`.
"""

from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent, QFont, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from .. import services
from ..core.errors import UserError
from ..core.transport.accounts import Account, make_account, preset_for
from .context import GuiContext
from .style import app_icon, icon

PAGE_CERTIFICATE, PAGE_ACCOUNT, PAGE_SELF_TEST = range(3)
CERTIFICATE_SUFFIXES = (".p12", ".pfx")
SECURITY_CHOICES = (
    ("starttls", "STARTTLS (usually port 587)", 587),
    ("tls", "TLS (usually port 465)", 465),
)
COLOURS = {"ok": "#1b7f3b", "error": "#b3261e", "warning": "#8a5a00", "busy": "#3a4a5c", "info": "#3a4a5c"}


def _alive(obj: object) -> bool:
    """False once Qt deleted the widget (the assistant was closed while a task was running)."""
    return shiboken6.isValid(obj)


def _wrapped(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class StatusLine(QWidget):
    """An icon and a sentence: working on it, done, a warning, or an error (selectable, to copy)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = ""
        self.icon_label = QLabel()
        self.icon_label.setFixedSize(20, 20)
        self.text_label = _wrapped()
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setFixedSize(60, 10)
        self.busy_bar.setTextVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.icon_label, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.busy_bar, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.text_label, 1)
        self.clear()

    def text(self) -> str:
        return self.text_label.text()

    def clear(self) -> None:
        self._show("", "")

    def busy(self, text: str) -> None:
        self._show("busy", text)

    def ok(self, text: str) -> None:
        self._show("ok", text)

    def warning(self, text: str) -> None:
        self._show("warning", text)

    def error(self, text: str) -> None:
        self._show("error", text)

    def _show(self, kind: str, text: str) -> None:
        self.kind = kind
        self.text_label.setText(text)
        self.text_label.setStyleSheet(f"color: {COLOURS.get(kind, COLOURS['info'])};")
        self.text_label.setAccessibleName({"error": "Error", "warning": "Warning", "ok": "Done"}.get(kind, "Status"))
        self.busy_bar.setVisible(kind == "busy")
        name = {"ok": "ok", "error": "error", "warning": "warning"}.get(kind)
        self.icon_label.setPixmap(icon(name).pixmap(QSize(20, 20)) if name else QPixmap())
        self.icon_label.setVisible(name is not None)
        self.setVisible(bool(text))


class DropArea(QFrame):
    """The dashed box on the certificate page; highlighted while a file is dragged over the page."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropArea")
        self.set_highlight(False)

    def set_highlight(self, on: bool) -> None:
        border, background = ("#2b6cb0", "#e3eefa") if on else ("#9db5d3", "#f6f9fc")
        self.setStyleSheet(
            f"QFrame#dropArea {{ border: 2px dashed {border}; border-radius: 8px; background: {background}; }}"
        )


# -- page 1: the certificate --------------------------------------------------------------------


class CertificatePage(QWizardPage):
    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.imported: services.IdentitySummary | None = None
        self.busy = False
        self.keyring_available = False
        self.setTitle("Your certificate")
        self.setSubTitle(
            "Import the certificate file (.p12 or .pfx) you received from your certificate "
            "provider. You do this only once."
        )
        self.setAcceptDrops(True)

        self.drop_area = DropArea()
        drop_icon = QLabel()
        drop_icon.setPixmap(icon("certificate").pixmap(QSize(40, 40)))
        drop_text = _wrapped("Drag your certificate file (.p12 or .pfx) onto this box, or choose it with Browse.")
        drop_text.setStyleSheet("border: none; background: transparent;")
        drop_icon.setStyleSheet("border: none; background: transparent;")
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("No file chosen yet")
        self.file_edit.setAcceptDrops(False)  # drops go to the page, not into the text
        self.file_edit.setToolTip("Your certificate file with its private key: it ends in .p12 or .pfx")
        self.file_edit.setAccessibleName("Certificate file")
        self.browse_button = QPushButton("&Browse...")
        self.browse_button.setToolTip("Choose your .p12 or .pfx file")
        self.browse_button.clicked.connect(self.choose_file)
        file_label = QLabel("Certificate &file:")
        file_label.setBuddy(self.file_edit)
        file_label.setStyleSheet("border: none; background: transparent;")
        drop_layout = QGridLayout(self.drop_area)
        drop_layout.setContentsMargins(14, 12, 14, 12)
        drop_layout.addWidget(drop_icon, 0, 0, 2, 1, Qt.AlignmentFlag.AlignTop)
        drop_layout.addWidget(drop_text, 0, 1, 1, 3)
        drop_layout.addWidget(file_label, 1, 1)
        drop_layout.addWidget(self.file_edit, 1, 2)
        drop_layout.addWidget(self.browse_button, 1, 3)
        drop_layout.setColumnStretch(2, 1)

        self.passphrase_edit = QLineEdit()
        self.passphrase_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase_edit.setAcceptDrops(False)
        self.passphrase_edit.setToolTip(
            "The passphrase (password) of the certificate file: you chose it when you saved the "
            "file, or your provider gave it to you"
        )
        self.passphrase_edit.setAccessibleName("Passphrase of the certificate file")
        self.passphrase_edit.returnPressed.connect(self._return_pressed)
        self.import_button = QPushButton(icon("lock"), "&Import")
        self.import_button.setToolTip("Read the certificate and store it, with its key encrypted, in smimehelper's folder")
        self.import_button.clicked.connect(self.start_import)
        passphrase_label = QLabel("&Passphrase:")
        passphrase_label.setBuddy(self.passphrase_edit)
        passphrase_row = QHBoxLayout()
        passphrase_row.addWidget(passphrase_label)
        passphrase_row.addWidget(self.passphrase_edit, 1)
        passphrase_row.addWidget(self.import_button)

        self.keyring_box = QCheckBox("&Keep the passphrase in the system keyring")
        self.keyring_note = _wrapped()
        self.keyring_note.setStyleSheet(f"color: {COLOURS['info']};")
        self.keyring_note.setIndent(24)

        self.status = StatusLine()

        self.details = QGroupBox("Your certificate")
        form = QFormLayout(self.details)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.name_value = self._value(form, "Who:", "The name in the certificate")
        self.email_value = self._value(form, "E-mail:", "Messages you sign show this address; colleagues encrypt to it")
        self.valid_value = self._value(form, "Valid until:", "After this day the certificate no longer signs; renew it in time")
        self.issuer_value = self._value(form, "Issued by:", "The certificate authority that vouches for you")
        self.details.setVisible(False)

        self.demo_button = QPushButton(icon("smimehelper"), "Try with &demo certificates")
        self.demo_button.setToolTip(
            "No certificate yet? Set smimehelper up with throwaway demo certificates (like "
            "'smimehelper demo') to try every part of the app. Not for real patients."
        )
        self.demo_button.clicked.connect(self.start_demo)
        demo_row = QHBoxLayout()
        demo_row.addWidget(_wrapped("No certificate yet? Try the app with throwaway demo certificates first."), 1)
        demo_row.addWidget(self.demo_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.drop_area)
        layout.addSpacing(6)
        layout.addLayout(passphrase_row)
        layout.addWidget(self.keyring_box)
        layout.addWidget(self.keyring_note)
        layout.addWidget(self.status)
        layout.addWidget(self.details)
        layout.addStretch(1)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout.addWidget(line)
        layout.addLayout(demo_row)
        self.setTabOrder(self.file_edit, self.browse_button)
        self.setTabOrder(self.browse_button, self.passphrase_edit)
        self.setTabOrder(self.passphrase_edit, self.import_button)
        self.setTabOrder(self.import_button, self.keyring_box)
        self.setTabOrder(self.keyring_box, self.demo_button)

    @staticmethod
    def _value(form: QFormLayout, label: str, tip: str) -> QLabel:
        value = _wrapped()
        value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        value.setToolTip(tip)
        name = QLabel(label)
        name.setToolTip(tip)
        form.addRow(name, value)
        return value

    # -- QWizardPage ----------------------------------------------------------------------------
    def initializePage(self) -> None:  # noqa: N802 (Qt naming)
        stores = self._wizard.ctx.stores()
        keyring = self.keyring_available = services.secure_keyring_available(stores)
        self.keyring_box.setEnabled(keyring)
        self.keyring_box.setChecked(keyring)
        if keyring:
            self.keyring_box.setToolTip("Untick to be asked for the passphrase each time instead")
            self.keyring_note.setText(
                "Your key is stored encrypted in smimehelper's folder. With this ticked, the secret "
                "that unlocks it is kept in your system keyring, so you are not asked for the "
                "passphrase again. Untick it to type the passphrase each time you send or open a message."
            )
        else:
            self.keyring_box.setToolTip("This computer has no secure system keyring")
            self.keyring_note.setText(
                "This computer has no secure system keyring, so the passphrase cannot be kept. "
                "Your key is stored encrypted with this passphrase, and smimehelper asks for it "
                "each time you send or open a message."
            )
        identities = stores.identities.list()
        if identities and self.imported is None:
            self._show_details(services.summarize_identity(identities[0]))
            self.status.ok("You have already imported this certificate. Press Next, or import another one.")
        self.file_edit.setFocus()

    def isComplete(self) -> bool:  # noqa: N802
        return self.imported is not None and not self.busy

    # -- choosing a file --------------------------------------------------------------------------
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose your certificate", "", "Certificate with key (*.p12 *.pfx);;All files (*)"
        )
        if path:
            self.set_file(Path(path))

    def set_file(self, path: Path) -> None:
        self.file_edit.setText(str(path))
        self.status.clear()
        self.passphrase_edit.setFocus()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self._dropped_file(event) is not None and not self.busy:
            event.acceptProposedAction()
            self.drop_area.set_highlight(True)
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self.drop_area.set_highlight(False)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self.drop_area.set_highlight(False)
        path = self._dropped_file(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.set_file(path)

    @staticmethod
    def _dropped_file(event: QDragEnterEvent | QDropEvent) -> Path | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        files = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        wanted = [p for p in files if p.suffix.lower() in CERTIFICATE_SUFFIXES]
        return (wanted or files or [None])[0]

    # -- importing ------------------------------------------------------------------------------------
    def _return_pressed(self) -> None:
        if not self.isComplete():
            self.start_import()

    def start_import(self) -> None:
        if self.busy:
            return
        text = self.file_edit.text().strip()
        if not text:
            self.status.error("Choose your certificate file first: drop it on the box above, or press Browse.")
            self.browse_button.setFocus()
            return
        path = Path(text).expanduser()
        passphrase = self.passphrase_edit.text().encode("utf-8")
        use_keyring = self.keyring_box.isChecked()
        ctx = self._wizard.ctx
        self._set_busy(True)
        self.status.busy(f"Reading {path.name}...")
        ctx.tasks.run(
            lambda _control: services.import_identity_file(ctx.stores(), path, passphrase, use_keyring=use_keyring),
            on_done=lambda stored: self._imported(stored, passphrase),
            on_error=self._failed,
        )

    def start_demo(self) -> None:
        if self.busy:
            return
        ctx = self._wizard.ctx
        self._set_busy(True)
        self.status.busy("Creating demo certificates and a synthetic x-ray...")
        ctx.tasks.run(lambda _control: services.use_demo_profile(ctx.stores()), on_done=self._demo_ready, on_error=self._failed)

    def _imported(self, stored: object, passphrase: bytes) -> None:
        if not _alive(self):
            return
        self._set_busy(False)
        self._wizard.remember_passphrase(stored, passphrase)  # type: ignore[arg-type]
        summary = services.summarize_identity(stored)  # type: ignore[arg-type]
        self._show_details(summary)
        if summary.protection == "keyring":
            how = "The passphrase is kept in the system keyring: you will not be asked for it again."
        else:
            how = "smimehelper will ask for this passphrase when you send or open a message."
        if summary.notice:
            self.status.warning(f"Imported, but: {summary.notice} {how}")
        else:
            self.status.ok(f"Imported. {how}")
        self._wizard.button(QWizard.WizardButton.NextButton).setFocus()

    def _demo_ready(self, profile: object) -> None:
        if not _alive(self):
            return
        assert isinstance(profile, services.DemoProfile)
        self._wizard.demo = profile
        self.file_edit.setText(str(profile.sender_p12))
        self.passphrase_edit.setText(profile.passphrase.decode())
        self._imported(profile.identity, profile.passphrase)
        self.status.ok(
            f"Demo certificates are ready (passphrase: {profile.passphrase.decode()}). They are for trying "
            f"out only, never for real patients. The demo files are in {profile.directory}."
        )

    def _failed(self, message: str) -> None:
        if not _alive(self):
            return
        self._set_busy(False)
        self.status.error(message)
        self.passphrase_edit.selectAll()
        self.passphrase_edit.setFocus()

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for widget in (self.import_button, self.browse_button, self.demo_button, self.file_edit, self.passphrase_edit, self.keyring_box):
            widget.setEnabled(not busy and (widget is not self.keyring_box or self.keyring_available))
        self.completeChanged.emit()

    def _show_details(self, summary: services.IdentitySummary) -> None:
        self.imported = summary
        self.name_value.setText(summary.name)
        self.email_value.setText(", ".join(summary.emails))
        until = f"{summary.valid_until:%d %B %Y}"
        self.valid_value.setText(f"{until}  ({summary.notice})" if summary.notice else until)
        self.valid_value.setStyleSheet(f"color: {COLOURS['warning']};" if summary.notice else "")
        self.issuer_value.setText(summary.issuer)
        self.details.setVisible(True)
        self.completeChanged.emit()


# -- page 2: the mail account ------------------------------------------------------------------


class AccountPage(QWizardPage):
    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.skipping = False
        self.saved: str | None = None  # what was saved, in a sentence, for the last page
        self.testing = False
        self._preset_host: str | None = None
        self._user_edited = False
        self.setTitle("Your mail account")
        self.setSubTitle(
            "smimehelper sends your messages through your usual e-mail account. "
            "You can also do this later: press Later."
        )
        self.intro = _wrapped()
        self.intro.setVisible(False)

        self.email_edit = QLineEdit()
        self.email_edit.setToolTip("The address you send from; it must be the address in your certificate")
        self.email_edit.textChanged.connect(self._email_changed)
        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText("for example smtp.your-provider.com")
        self.host_edit.setToolTip("Your provider's outgoing mail server (SMTP). Filled in for Gmail, Microsoft, iCloud, Fastmail and Yahoo")
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(587)
        self.port_spin.setToolTip("587 for STARTTLS, 465 for TLS: your provider's help pages say which")
        self.security_combo = QComboBox()
        for value, text, _port in SECURITY_CHOICES:
            self.security_combo.addItem(text, value)
        self.security_combo.setToolTip("smimehelper always encrypts the connection; sending without encryption is not offered")
        self.security_combo.currentIndexChanged.connect(self._security_changed)
        self.user_edit = QLineEdit()
        self.user_edit.setToolTip("Usually your e-mail address")
        self.user_edit.textEdited.connect(self._user_was_edited)
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setToolTip("Your mail password, or the app password your provider asks for")
        self.cafile_edit = QLineEdit()
        self.cafile_edit.setPlaceholderText("Leave empty unless your IT gave you one")
        self.cafile_edit.setToolTip(
            "Only if your practice or provider runs its mail server with its own certificate "
            "authority: its certificate file (.pem/.crt)"
        )
        cafile_button = QPushButton("C&hoose...")
        cafile_button.setToolTip("Choose the authority's certificate file")
        cafile_button.clicked.connect(self._choose_cafile)
        cafile_row = QHBoxLayout()
        cafile_row.addWidget(self.cafile_edit, 1)
        cafile_row.addWidget(cafile_button)
        server_row = QHBoxLayout()
        server_row.addWidget(self.host_edit, 1)
        port_label = QLabel("P&ort:")
        port_label.setBuddy(self.port_spin)
        server_row.addWidget(port_label)
        server_row.addWidget(self.port_spin)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&E-mail address:", self.email_edit)
        form.addRow("Outgoing &server:", server_row)
        form.addRow("Se&curity:", self.security_combo)
        form.addRow("&User name:", self.user_edit)
        form.addRow("Pass&word:", self.password_edit)
        form.addRow("Server &authority:", cafile_row)
        form.labelForField(server_row).setBuddy(self.host_edit)  # type: ignore[union-attr]
        form.labelForField(cafile_row).setBuddy(self.cafile_edit)  # type: ignore[union-attr]

        self.provider_note = _wrapped()
        self.provider_note.setObjectName("providerNote")
        self.provider_note.setStyleSheet(
            "QLabel#providerNote { background: #eef4fb; border: 1px solid #c8d9ee; border-radius: 6px; padding: 8px; }"
        )
        self.provider_note.setVisible(False)
        self.password_note = _wrapped()
        self.password_note.setStyleSheet(f"color: {COLOURS['info']};")

        self.test_button = QPushButton(icon("send"), "&Test connection")
        self.test_button.setToolTip("Connect to the server, log in and quit: nothing is sent")
        self.test_button.clicked.connect(self.start_test)
        self.test_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.status = StatusLine()
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        test_row.addWidget(self.status, 1)
        test_row.addStretch(0)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.provider_note)
        layout.addWidget(self.password_note)
        layout.addSpacing(6)
        layout.addLayout(test_row)
        layout.addStretch(1)

    # -- QWizardPage ----------------------------------------------------------------------------
    def initializePage(self) -> None:  # noqa: N802
        self.skipping = False
        stores = self._wizard.ctx.stores()
        demo = self._wizard.demo is not None
        self.intro.setVisible(demo)
        if demo:
            self.intro.setText(
                "You are trying smimehelper with demo certificates. Their addresses (example.com) "
                "are made up, so there is no mail account to set up now: press Later."
            )
        accounts = stores.accounts.list()
        identities = stores.identities.list()
        own = identities[0].emails[0] if identities and identities[0].emails else ""
        existing = next((a for a in accounts if a.email == own), accounts[0] if accounts else None)
        if existing is not None and not self.email_edit.text():
            self._fill(existing)
        elif own and self.email_edit.text() != own:
            self.email_edit.setText(own)
        if services.secure_keyring_available(stores):
            self.password_note.setText("The password is kept in your system keyring.")
        else:
            self.password_note.setText(
                "This computer has no secure keyring, so the password is not stored: smimehelper "
                "asks for it when it sends."
            )
        (self._wizard.button(QWizard.WizardButton.CustomButton1) if demo else self.password_edit).setFocus()

    def validatePage(self) -> bool:  # noqa: N802
        if self.skipping:
            self.saved = None
            return True
        try:
            account = self.account()
        except UserError as exc:
            self.status.error(str(exc))
            return False
        password = self.password_edit.text().encode("utf-8") or None
        in_keyring = self._wizard.ctx.stores().accounts.add(account, password)
        if in_keyring:
            self.saved = f"Your mail account {account.email} is saved; the password is in your system keyring."
        elif password:
            self.saved = f"Your mail account {account.email} is saved; smimehelper asks for the password when it sends."
        else:
            self.saved = f"Your mail account {account.email} is saved without a password; smimehelper asks for it when it sends."
        return True

    def isComplete(self) -> bool:  # noqa: N802
        return not self.testing

    def skip(self) -> None:
        """'Later': go on to the self-test without saving an account."""
        self.skipping = True
        self._wizard.next()

    # -- fields ---------------------------------------------------------------------------------
    def account(self) -> Account:
        """The account as typed; raises UserError with a sentence for the page."""
        email = self.email_edit.text().strip()
        if "@" not in email or email.startswith("@") or email.endswith("@"):
            raise UserError("Type your e-mail address, for example name@practice.com.")
        host = self.host_edit.text().strip()
        if not host and preset_for(email) is None:
            raise UserError(
                f"smimehelper does not know the mail servers of {email.rsplit('@', 1)[-1]}. Type your "
                "provider's outgoing server (SMTP) and port (their help pages list them), or press Later."
            )
        return make_account(
            email,
            smtp_host=host or None,
            smtp_port=self.port_spin.value(),
            security=self.security_combo.currentData(),
            username=self.user_edit.text().strip() or None,
            cafile=self.cafile_edit.text().strip() or None,
        )

    def _fill(self, account: Account) -> None:
        self.email_edit.setText(account.email)
        self.host_edit.setText(account.smtp_host)
        self.port_spin.setValue(account.smtp_port)
        self.security_combo.setCurrentIndex(max(0, self.security_combo.findData(account.security)))
        if account.username != account.email:
            self.user_edit.setText(account.username)
            self._user_edited = True
        self.cafile_edit.setText(account.cafile or "")

    def _email_changed(self, text: str) -> None:
        email = text.strip()
        if not self._user_edited:
            self.user_edit.setText(email)
        preset = preset_for(email) if "@" in email else None
        if preset is not None:
            self._preset_host = preset.smtp_host
            self.host_edit.setText(preset.smtp_host)
            self.security_combo.setCurrentIndex(max(0, self.security_combo.findData(preset.security)))
            self.port_spin.setValue(preset.smtp_port)
            self.provider_note.setText(f"{preset.name}: the servers are filled in. {preset.note}")
            self.provider_note.setVisible(True)
        else:
            if self._preset_host is not None and self.host_edit.text() == self._preset_host:
                self.host_edit.clear()
                self.security_combo.setCurrentIndex(0)
                self.port_spin.setValue(587)
            self._preset_host = None
            self.provider_note.setVisible(False)

    def _security_changed(self, _index: int) -> None:
        defaults = {value: port for value, _text, port in SECURITY_CHOICES}
        if self.port_spin.value() in defaults.values():
            self.port_spin.setValue(defaults[self.security_combo.currentData()])

    def _user_was_edited(self, text: str) -> None:
        self._user_edited = bool(text.strip()) and text.strip() != self.email_edit.text().strip()

    def _choose_cafile(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "The mail server's certificate authority", "", "Certificates (*.pem *.crt *.cer);;All files (*)")
        if path:
            self.cafile_edit.setText(path)

    # -- the connection test ---------------------------------------------------------------------
    def start_test(self) -> None:
        if self.testing:
            return
        try:
            account = self.account()
        except UserError as exc:
            self.status.error(str(exc))
            return
        password = self.password_edit.text().encode("utf-8") or None
        ctx = self._wizard.ctx
        self.testing = True
        self.test_button.setEnabled(False)
        self.completeChanged.emit()
        self.status.busy(f"Connecting to {account.smtp_host}:{account.smtp_port}...")
        ctx.tasks.run(
            lambda _control: services.check_account_connection(ctx.stores(), account, password),
            on_done=lambda check: self._tested(check, account),
            on_error=self._test_failed,
        )

    def _tested(self, check: object, account: Account) -> None:
        if not _alive(self):
            return
        self._test_over()
        assert isinstance(check, services.ConnectionCheck)
        how = "STARTTLS" if check.security == "starttls" else "TLS"
        limit = f" It accepts messages up to {check.size_limit / 1e6:.0f} MB." if check.size_limit else ""
        if check.logged_in:
            self.status.ok(f"Connection works: connected securely to {check.where} ({how}) and logged in as {account.username}. Nothing was sent.{limit}")
        else:
            self.status.warning(
                f"Connected securely to {check.where} ({how}), but no password was given, so logging in "
                f"was not tested. Type the password and test again.{limit}"
            )

    def _test_failed(self, message: str) -> None:
        if not _alive(self):
            return
        self._test_over()
        self.status.error(message)

    def _test_over(self) -> None:
        self.testing = False
        self.test_button.setEnabled(True)
        self.completeChanged.emit()


# -- page 3: the self-test ------------------------------------------------------------------------


class SelfTestPage(QWizardPage):
    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.running = False
        self.result: services.SelfTestResult | None = None
        self.setTitle("Self-test")
        self.setSubTitle(
            "smimehelper signs and encrypts a short message to you and opens it again, to check "
            "that everything works. Nothing is sent."
        )
        self.setFinalPage(True)
        self.headline_icon = QLabel()
        self.headline_icon.setFixedSize(32, 32)
        self.headline = QLabel()
        font = QFont(self.headline.font())
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setAccessibleName("Self-test result")
        headline_row = QHBoxLayout()
        headline_row.addWidget(self.headline_icon)
        headline_row.addWidget(self.headline, 1)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumHeight(10)
        self.steps_box = QWidget()
        self.steps_layout = QGridLayout(self.steps_box)
        self.steps_layout.setContentsMargins(4, 4, 4, 4)
        self.steps_layout.setColumnStretch(2, 1)
        self.steps_layout.setHorizontalSpacing(10)
        self.again_button = QPushButton("Run the self-test &again")
        self.again_button.setToolTip("Sign, encrypt and open a message to yourself once more")
        self.again_button.clicked.connect(self.start)
        self.account_line = _wrapped()
        self.next_steps = _wrapped(
            "Press Finish to start. Write a message with files in Compose; add your colleagues' "
            "certificates in Contacts (or open a signed message they sent you)."
        )
        layout = QVBoxLayout(self)
        layout.addLayout(headline_row)
        layout.addWidget(self.busy_bar)
        layout.addWidget(self.steps_box)
        again_row = QHBoxLayout()
        again_row.addWidget(self.again_button)
        again_row.addStretch(1)
        layout.addLayout(again_row)
        layout.addStretch(1)
        layout.addWidget(self.account_line)
        layout.addWidget(self.next_steps)

    def initializePage(self) -> None:  # noqa: N802
        saved = self._wizard.account_page.saved
        self.account_line.setText(
            saved or "No mail account yet: you can still write messages and save them, and set the account "
            "up later with File > First-run assistant."
        )
        self.start()

    def isComplete(self) -> bool:  # noqa: N802
        return not self.running

    def start(self) -> None:
        if self.running:
            return
        ctx = self._wizard.ctx
        passphrase = self._wizard.passphrase_for_default(self)
        if passphrase is None:
            self._show_headline("warning", "Self-test not run: no passphrase was given.")
            return
        self.running = True
        self.result = None
        self.again_button.setEnabled(False)
        self.busy_bar.setVisible(True)
        self._clear_steps()
        self._show_headline(None, "Signing, encrypting and opening a message to yourself...")
        self.completeChanged.emit()
        ctx.tasks.run(
            lambda _control: services.self_test(ctx.stores(), lambda _prompt: passphrase),
            on_done=self._finished,
            on_error=self._failed,
        )

    def _finished(self, result: object) -> None:
        if not _alive(self):
            return
        assert isinstance(result, services.SelfTestResult)
        self.result = result
        self._stop()
        for step in result.steps:
            self._add_step("warning" if step.warning else ("ok" if step.ok else "error"), step.what, step.detail)
        if not result.passed:
            self._show_headline("error", "Self-test failed")
        elif result.warnings:
            self._show_headline("ok", "Self-test passed, with a note")
        else:
            self._show_headline("ok", "Self-test passed")

    def _failed(self, message: str) -> None:
        if not _alive(self):
            return
        self.result = None
        self._stop()
        self._add_step("error", "Run the self-test", message)
        self._show_headline("error", "Self-test failed")

    def _stop(self) -> None:
        self.running = False
        self.busy_bar.setVisible(False)
        self.again_button.setEnabled(True)
        self.completeChanged.emit()

    def headline_text(self) -> str:
        return self.headline.text()

    def _show_headline(self, kind: str | None, text: str) -> None:
        self.headline.setText(text)
        self.headline.setStyleSheet(f"color: {COLOURS.get(kind or 'info')};")
        self.headline_icon.setVisible(kind is not None)
        if kind is not None:
            self.headline_icon.setPixmap(icon(kind).pixmap(QSize(32, 32)))

    def _clear_steps(self) -> None:
        while self.steps_layout.count():
            item = self.steps_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _add_step(self, kind: str, what: str, detail: str) -> None:
        row = self.steps_layout.rowCount()
        mark = QLabel()
        mark.setPixmap(icon(kind).pixmap(QSize(18, 18)))
        mark.setAccessibleName({"ok": "passed", "warning": "note", "error": "failed"}[kind])
        name = QLabel(what)
        name.setStyleSheet("font-weight: bold;")
        text = _wrapped(detail)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if kind != "ok":
            text.setStyleSheet(f"color: {COLOURS[kind]};")
        self.steps_layout.addWidget(mark, row, 0, Qt.AlignmentFlag.AlignTop)
        self.steps_layout.addWidget(name, row, 1, Qt.AlignmentFlag.AlignTop)
        self.steps_layout.addWidget(text, row, 2)


# -- the assistant ----------------------------------------------------------------------------------


class FirstRunWizard(QWizard):
    """Certificate, mail account (optional), self-test. ``FirstRunWizard(ctx, parent).open()``."""

    def __init__(self, ctx: GuiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.demo: services.DemoProfile | None = None
        # The passphrase typed on the first page, kept in memory only while the assistant is
        # open (for the self-test) and only when the key is protected by it.
        self._passphrase: tuple[str, bytes] | None = None
        self.setWindowTitle("Set up smimehelper")
        self.setWindowIcon(app_icon())
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setPixmap(QWizard.WizardPixmap.LogoPixmap, app_icon().pixmap(QSize(48, 48)))
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.HaveCustomButton1, True)
        self.setButtonText(QWizard.WizardButton.CustomButton1, "&Later")
        self.button(QWizard.WizardButton.CustomButton1).setToolTip("Skip the mail account for now; set it up later from the File menu")
        self.setButtonLayout([
            QWizard.WizardButton.Stretch,
            QWizard.WizardButton.CustomButton1,
            QWizard.WizardButton.BackButton,
            QWizard.WizardButton.NextButton,
            QWizard.WizardButton.FinishButton,
            QWizard.WizardButton.CancelButton,
        ])
        self.certificate_page = CertificatePage(self)
        self.account_page = AccountPage(self)
        self.self_test_page = SelfTestPage(self)
        self.setPage(PAGE_CERTIFICATE, self.certificate_page)
        self.setPage(PAGE_ACCOUNT, self.account_page)
        self.setPage(PAGE_SELF_TEST, self.self_test_page)
        self.setStartId(PAGE_CERTIFICATE)
        self.customButtonClicked.connect(self._custom_button)
        self.currentIdChanged.connect(self._page_changed)
        self.resize(720, 640)
        self._page_changed(PAGE_CERTIFICATE)

    def _custom_button(self, which: int) -> None:
        if which == QWizard.WizardButton.CustomButton1.value and self.currentId() == PAGE_ACCOUNT:
            self.account_page.skip()

    def _page_changed(self, page_id: int) -> None:
        self.button(QWizard.WizardButton.CustomButton1).setVisible(page_id == PAGE_ACCOUNT)

    def remember_passphrase(self, stored: object, passphrase: bytes) -> None:
        """Keep the passphrase just typed for the self-test, if the key is protected by it."""
        fingerprint = getattr(stored, "fingerprint", "")
        protection = getattr(stored, "protection", "")
        self._passphrase = (fingerprint, passphrase) if protection == "passphrase" and passphrase else None

    def passphrase_for_default(self, parent: QWidget) -> bytes | None:
        """The default identity's passphrase: b"" when the keyring unlocks it, the one typed on
        the first page, else asked now; None when the user cancels."""
        identities = self.ctx.stores().identities.list()
        if not identities or identities[0].protection != "passphrase":
            return b""
        if self._passphrase is not None and self._passphrase[0] == identities[0].fingerprint:
            return self._passphrase[1]
        return self.ctx.identity_passphrase(parent)

    def done(self, result: int) -> None:
        self._passphrase = None
        super().done(result)
