"""Compose's "Send as password package" for a recipient without a certificate.

A mixin of :class:`~smimehelper.gui.compose.view.ComposeView`: the message being written (subject,
text, files) goes to that one recipient in a password package, sent in a signed mail through the
account, or saved as a file (no account, or a study too large for mail). The package is made only
by ``services.package``; afterwards the passphrase is shown once (:class:`PassphraseDialog`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ...core.display import human_size, printable
from ..package_dialog import PassphraseDialog
from ..tasks import TaskControl
from .texts import NO_IDENTITY

if TYPE_CHECKING:
    from ...core.transport.delivery import Delivered
    from ...services import package as package_service
    from .view import ComposeView

    _Base = ComposeView
else:
    _Base = object

SEND, SAVE = "send", "save"


@dataclass(frozen=True)
class PackageReport:
    outcome: package_service.PackageOutcome
    delivered: tuple[Delivered, ...]
    saved_to: Path | None


class PackageActions(_Base):
    last_package: PackageReport | None = None

    def choose_package_way(self, email: str, has_account: bool) -> str | None:
        """Send by e-mail or save as a file (asked; tests replace this)."""
        box = QMessageBox(self)
        box.setWindowTitle("Send as password package")
        box.setText(
            f"{email} has no certificate. They can open a password package in their web browser with a "
            "passphrase you tell them by phone or text message."
        )
        send = box.addButton("Send by e-mail", QMessageBox.ButtonRole.AcceptRole) if has_account else None
        save = box.addButton("Save as file...", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return SEND if send is not None and clicked is send else SAVE if clicked is save else None

    def show_passphrase(self, recipient: str, passphrase: str, summary: str) -> None:
        """The passphrase, large, with Copy (tests replace this to read it)."""
        PassphraseDialog(recipient, passphrase, summary, self).exec()

    def send_as_package(self, email: str) -> None:
        from ...services import package as package_service  # the package format: loaded when first used

        if self.busy():
            return
        stores = self.ctx.stores()
        if not stores.identities.list():
            self._show("error", NO_IDENTITY)
            return
        accounts = stores.accounts.list()
        way = self.choose_package_way(email, bool(accounts))
        if way is None:
            return
        base = package_service.PackageInput(
            to=email, subject=self.subject_edit.text().strip(), body=self.body_edit.toPlainText(),
            attachments=tuple(self.files.file_paths()),  # a study folder: its DICOM files, one by one
        )
        ctx = self.ctx
        if way == SAVE:
            start = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or Path.home())
            chosen, _filter = QFileDialog.getSaveFileName(
                self, f"Save the password package for {email}", str(start / f"package-for-{email}.html"),
                "Web page (*.html);;All files (*)",
            )
            if not chosen:
                return
            request = package_service.PackageInput(**{**base.__dict__, "out": Path(chosen)})

            def save_work(control: TaskControl) -> PackageReport:
                outcome = package_service.make_package(request, None, stores=ctx.stores(), progress=control.progress,
                                                       cancelled=control.cancelled)
                return PackageReport(outcome, (), Path(chosen))

            self._run(f"Encrypting the password package for {email}...", save_work, self._package_done)
            return
        account = self._account(stores, accounts)
        assert account is not None
        secret = self._passphrase(stores, True)
        if secret is None:
            return
        password = self._password(stores, account)
        if password is None:
            return

        def send_work(control: TaskControl) -> PackageReport:
            current = ctx.stores()
            with tempfile.TemporaryDirectory(prefix="smimehelper-package-") as folder:
                request = package_service.PackageInput(**{**base.__dict__, "mail_out": Path(folder) / "package.eml"})
                outcome = package_service.make_package(request, lambda _prompt: secret, stores=current,
                                                       progress=control.progress, cancelled=control.cancelled)
                delivered = package_service.send_package(current, outcome, account.email, lambda _account: password)
            return PackageReport(outcome, tuple(delivered), None)

        self._run(f"Encrypting and sending the password package for {email}...", send_work, self._package_done)

    def _package_done(self, report: PackageReport) -> None:
        self.last_package = report
        outcome = report.outcome
        who = printable(outcome.recipient)
        if report.saved_to is not None:
            summary = f"Saved the password package for {who} to {report.saved_to} ({human_size(outcome.package_size)}). Hand it over any way you like: it stays encrypted."
            kind = "ok"
        elif report.delivered and all(d.item.state == "sent" for d in report.delivered):
            summary = f"Sent the password package to {who} in a signed mail ({human_size(outcome.mail_size)})."
            kind = "ok"
        else:
            reasons = "; ".join(d.message for d in report.delivered) or "it is waiting in the outbox"
            summary = f"The password package for {who} is in the outbox but not sent yet: {reasons}"
            kind = "warn"
        self._show(kind, summary)
        self.show_passphrase(outcome.recipient, outcome.passphrase, summary)
