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

from ... import services
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QWidget, QWizard

from ..context import GuiContext
from ..style import app_icon
from .account_page import AccountPage
from .certificate_page import CertificatePage
from .self_test_page import SelfTestPage
from .widgets import PAGE_ACCOUNT, PAGE_CERTIFICATE, PAGE_SELF_TEST

__all__ = ["PAGE_ACCOUNT", "PAGE_CERTIFICATE", "PAGE_SELF_TEST", "AccountPage", "CertificatePage", "FirstRunWizard", "SelfTestPage"]


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
