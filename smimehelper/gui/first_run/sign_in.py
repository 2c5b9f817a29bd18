"""The account page's "Sign in with Microsoft / Google": OAuth 2.0 instead of a password field.

Microsoft 365 no longer takes passwords for sending and Google only app passwords, so for those
the page offers the provider's own sign-in page in the system browser (with its two-factor
prompt). The sign-in runs on a worker thread; the window stays responsive, shows the address in
case no browser opened, and has a Cancel button. The result (the refresh token) goes to the
system keyring, or lasts for this session where there is none.
"""

from __future__ import annotations

import threading
import webbrowser
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from ...core.transport.accounts import Account, Preset
from ..style import icon
from .widgets import StatusLine, _alive

METHODS = (
    ("password", "Password (or app password)"),
    ("microsoft", "Sign in with Microsoft (Microsoft 365, Outlook.com)"),
    ("google", "Sign in with Google (Gmail, Google Workspace)"),
    ("custom", "Sign in with another provider"),
)
BUTTON_TEXT = {"microsoft": "Sign in with &Microsoft", "google": "Sign in with &Google", "custom": "&Sign in"}


class _Relay(QObject):
    """Carries the sign-in address from the worker thread to the GUI thread (queued signal)."""

    url = Signal(str)


class SignInBox(QWidget):
    """Method choice, the sign-in app's fields, the button and its status line."""

    def __init__(self, on_method_changed: Callable[[str], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.open_browser: Callable[[str], bool] = webbrowser.open  # the system browser
        self.busy = False
        self.signed_in_email: str | None = None
        self._cancel: threading.Event | None = None
        self._on_method_changed = on_method_changed
        self.method_combo = QComboBox()
        for value, text in METHODS:
            self.method_combo.addItem(text, value)
        self.method_combo.setToolTip("Microsoft 365 and Google want you to sign in on their own page instead of typing a password here")
        self.method_combo.currentIndexChanged.connect(self._method_changed)
        self.issuer_edit = QLineEdit()
        self.issuer_edit.setPlaceholderText("https://login.your-practice.example")
        self.issuer_edit.setToolTip("The sign-in address of your provider (from your IT)")
        self.client_edit = QLineEdit()
        self.client_edit.setPlaceholderText("from your IT, for example 1a2b3c4d-...")
        self.client_edit.setToolTip("The ID of the sign-in app your IT registered for smimehelper (Entra ID or Google Cloud)")
        self.button = QPushButton(icon("send"), BUTTON_TEXT["microsoft"])
        self.button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.cancel_button = QPushButton("Ca&ncel sign-in")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.status = StatusLine()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.status, 1)
        row.addStretch(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        self._relay = _Relay()
        self._relay.url.connect(self._show_url)
        self._method_changed(0)

    @property
    def method(self) -> str:
        return str(self.method_combo.currentData())

    @property
    def uses_oauth(self) -> bool:
        return self.method != "password"

    def set_preset(self, preset: Preset | None) -> None:
        """The provider's default log-in: its sign-in where it has one, else a password."""
        self.method_combo.setCurrentIndex(max(0, self.method_combo.findData(preset.oauth if preset and preset.oauth else "password")))

    def set_account(self, account: Account) -> None:
        self.method_combo.setCurrentIndex(max(0, self.method_combo.findData(account.oauth_provider if account.uses_oauth else "password")))
        self.client_edit.setText(account.oauth_client_id or "")
        self.issuer_edit.setText(account.oauth_issuer or "")

    def settings(self) -> dict[str, object]:
        """make_account() arguments for the chosen method."""
        if not self.uses_oauth:
            return {"auth": "password"}
        return {
            "auth": "oauth2", "provider": None if self.method == "custom" else self.method,
            "oauth_client_id": self.client_edit.text().strip() or None,
            "oauth_issuer": self.issuer_edit.text().strip() or None if self.method == "custom" else None,
        }

    def _method_changed(self, _index: int) -> None:
        self.setVisible(self.uses_oauth)
        self.button.setText(BUTTON_TEXT.get(self.method, "&Sign in"))
        self.signed_in_email = None
        self.status.clear()
        self._on_method_changed(self.method)

    # -- the sign-in ------------------------------------------------------------------------------
    def start(self, stores_factory: Callable[[], object], account: Account, run: Callable[..., object]) -> None:
        """Sign ``account`` in on a worker (``run`` is the page's TaskRunner.run)."""
        if self.busy:
            return
        from ...services import signin

        self.busy = True
        self._cancel = threading.Event()
        cancel = self._cancel
        self.button.setEnabled(False)
        self.cancel_button.setVisible(True)
        self.status.busy("Your browser opens the sign-in page; sign in there, then come back here.")
        opener = self.open_browser
        relay = self._relay

        def work(_control: object) -> object:
            return signin.sign_in_account(stores_factory(), account, open_browser=opener, show_url=relay.url.emit, cancel=cancel)  # type: ignore[arg-type]

        run(work, on_done=self._done, on_error=self._failed)

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def _show_url(self, url: str) -> None:
        if _alive(self) and self.busy:
            self.status.busy(f"Your browser opens the sign-in page; sign in there, then come back here. "
                             f"If no browser opened, open this address in one: {url}")

    def _done(self, result: object) -> None:
        if not _alive(self):
            return
        self._over()
        email = getattr(result, "email", "")
        provider = getattr(result, "provider", "")
        self.signed_in_email = email
        kept = ("The sign-in is kept in your system keyring; smimehelper renews it by itself."
                if getattr(result, "remembered", False) else
                "This computer has no secure keyring: the sign-in lasts until you close smimehelper.")
        self.status.ok(f"Signed in with {provider} as {email}. {kept}")

    def _failed(self, message: str) -> None:
        if not _alive(self):
            return
        self._over()
        self.status.error(message)

    def _over(self) -> None:
        self.busy = False
        self._cancel = None
        self.button.setEnabled(True)
        self.cancel_button.setVisible(False)
