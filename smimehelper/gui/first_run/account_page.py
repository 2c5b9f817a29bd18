"""Page 2 of the first-run assistant: your mail account (servers from the provider presets, a connection test)."""

from __future__ import annotations

from typing import TYPE_CHECKING


from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from ... import services
from ...core.errors import UserError
from ...core.transport.accounts import Account, make_account, preset_for
from ..compose.texts import MAIL_PROGRAM_PATHS
from ..style import icon
from ..tasks import TaskControl
from ..widgets import Details
from .sign_in import SignInBox
from .widgets import COLOURS, SECURITY_CHOICES, StatusLine, _alive, _wrapped

if TYPE_CHECKING:
    from . import FirstRunWizard


class AccountPage(QWizardPage):
    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.skipping = False
        self.saved: str | None = None  # what was saved, in a sentence, for the last page
        self.testing = False
        self._test_generation = 0
        self._test_control: TaskControl | None = None
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
        self.sign_in = SignInBox(self._login_method_changed)
        self.sign_in.button.clicked.connect(self.start_sign_in)
        form.addRow("&Log in:", self.sign_in.method_combo)
        form.addRow("Pass&word:", self.password_edit)
        form.addRow("Sign-in &address:", self.sign_in.issuer_edit)
        form.addRow("Sign-in app &ID:", self.sign_in.client_edit)
        form.addRow("Server &authority:", cafile_row)
        self._form = form
        self._login_method_changed(self.sign_in.method)
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
        self.paths_note = _wrapped(MAIL_PROGRAM_PATHS)
        self.paths_note.setAccessibleName("How messages leave")

        self.test_button = QPushButton(icon("send"), "&Test connection")
        self.test_button.setToolTip("Connect to the server, log in and quit: nothing is sent")
        self.test_button.clicked.connect(self.start_test)
        self.test_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.cancel_test_button = QPushButton("Ca&ncel test")
        self.cancel_test_button.setToolTip("Stop waiting for the server; nothing is changed")
        self.cancel_test_button.clicked.connect(self.cancel_test)
        self.cancel_test_button.hide()
        self.status = StatusLine()
        self.test_details = Details(name="Technical details of the connection test")
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        test_row.addWidget(self.cancel_test_button, 0, Qt.AlignmentFlag.AlignTop)
        status_box = QVBoxLayout()
        status_box.addWidget(self.status)
        status_box.addWidget(self.test_details)
        test_row.addLayout(status_box, 1)
        test_row.addStretch(0)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.sign_in)
        layout.addWidget(self.provider_note)
        layout.addWidget(self.password_note)
        layout.addSpacing(6)
        layout.addLayout(test_row)
        layout.addSpacing(6)
        layout.addWidget(self.paths_note)
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
        self._secure_keyring = services.secure_keyring_available(stores)
        self._update_keeping_note()
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
        if account.uses_oauth:
            self._wizard.ctx.stores().accounts.add(account, None)
            how = ("you are signed in" if self.sign_in.signed_in_email == account.email else
                   "press 'Sign in' on this page (or smimehelper asks when it sends)")
            self.saved = f"Your mail account {account.email} is saved; it signs in with its provider and {how}."
            return True
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
        return not self.testing and not self.sign_in.busy

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
            **self.sign_in.settings(),  # type: ignore[arg-type]
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
        self.sign_in.set_account(account)

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
            self.sign_in.set_preset(preset)
        else:
            if self._preset_host is not None and self.host_edit.text() == self._preset_host:
                self.host_edit.clear()
                self.security_combo.setCurrentIndex(0)
                self.port_spin.setValue(587)
            self._preset_host = None
            self.provider_note.setVisible(False)

    def _login_method_changed(self, method: str) -> None:
        """A password field, or the provider's sign-in (its app ID, and for others its address)."""
        form = getattr(self, "_form", None)
        if form is None:
            return
        form.setRowVisible(self.password_edit, method == "password")
        form.setRowVisible(self.sign_in.client_edit, method != "password")
        form.setRowVisible(self.sign_in.issuer_edit, method == "custom")
        self._update_keeping_note()
        self.completeChanged.emit()

    def _update_keeping_note(self) -> None:
        """Where the password, or the sign-in, is kept on this computer."""
        if not hasattr(self, "password_note"):  # still being built
            return
        secure = getattr(self, "_secure_keyring", False)
        if self.sign_in.uses_oauth:
            self.password_note.setText("The sign-in is kept in your system keyring." if secure else
                                       "This computer has no secure keyring, so the sign-in lasts until you close "
                                       "smimehelper; you sign in again next time. No password is stored or asked for.")
        elif secure:
            self.password_note.setText("The password is kept in your system keyring.")
        else:
            self.password_note.setText(
                "This computer has no secure keyring, so the password is not stored: smimehelper "
                "asks for it when it sends."
            )

    def start_sign_in(self) -> None:
        try:
            account = self.account()
        except UserError as exc:
            self.sign_in.status.error(str(exc))
            return
        ctx = self._wizard.ctx
        ctx.stores().accounts.add(account, None)  # the sign-in belongs to a saved account
        self.sign_in.start(ctx.stores, account, ctx.tasks.run)
        self.completeChanged.emit()

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
        password = None if account.uses_oauth else (self.password_edit.text().encode("utf-8") or None)
        ctx = self._wizard.ctx
        self.testing = True
        self._test_generation += 1
        generation = self._test_generation
        self.test_button.setEnabled(False)
        self.cancel_test_button.show()
        self.cancel_test_button.setEnabled(True)
        self.test_details.set_text("")
        self.completeChanged.emit()
        self.status.busy(f"Connecting to {account.smtp_host}:{account.smtp_port}... (you can cancel)")
        self._test_control = ctx.tasks.run(
            lambda control: services.run_connection_test(ctx.stores(), account, password, control.cancelled),
            on_done=lambda outcome: self._tested(generation, outcome, account),
            on_error=lambda message: self._test_failed(generation, message),
        )

    def cancel_test(self) -> None:
        """Stop waiting for the server: the page is usable again at once."""
        if not self.testing:
            return
        if self._test_control is not None:
            self._test_control.cancel()
        self._test_generation += 1  # whatever the server says later is not shown
        self._test_over()
        self.status.warning("Stopped: the connection test was cancelled. Nothing was changed.")

    def _tested(self, generation: int, outcome: object, account: Account) -> None:
        if not _alive(self) or generation != self._test_generation:
            return
        self._test_over()
        assert isinstance(outcome, services.ConnectionTest)
        if outcome.cancelled:
            return
        if not outcome.ok:
            self.status.error(outcome.problem)
            self.test_details.set_text(outcome.details)
            return
        check = outcome.check
        assert check is not None
        how = "STARTTLS" if check.security == "starttls" else "TLS"
        limit = f" It accepts messages up to {check.size_limit / 1e6:.0f} MB." if check.size_limit else ""
        self.test_details.set_text(f"Server {check.where}, encryption {how}" + (f", SIZE {check.size_limit}" if check.size_limit else ""))
        if check.logged_in:
            signed = " with your sign-in" if account.uses_oauth else ""
            self.status.ok(f"Connection works: connected securely to {check.where} and logged in as {account.username}{signed}. Nothing was sent.{limit}")
        else:
            self.status.warning(
                f"Connected securely to {check.where}, but no password was given, so logging in "
                f"was not tested. Type the password and test again.{limit}"
            )

    def _test_failed(self, generation: int, message: str) -> None:
        if not _alive(self) or generation != self._test_generation:
            return
        self._test_over()
        self.status.error(message)

    def _test_over(self) -> None:
        self.testing = False
        self._test_control = None
        self.test_button.setEnabled(True)
        self.cancel_test_button.hide()
        self.completeChanged.emit()


# -- page 3: the self-test ------------------------------------------------------------------------


