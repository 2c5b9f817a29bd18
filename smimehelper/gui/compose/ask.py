"""Compose's "Ask for their certificate" for a recipient without a (usable) certificate.

A mixin of :class:`~smimehelper.gui.compose.view.ComposeView`. Nothing is sent before the user
has seen what is sent and why (:class:`.ask_dialog.AskCertificateDialog`); then the request is
signed (not encrypted) and sent through the account, or saved as a file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog

from ... import services
from ..tasks import TaskControl
from .ask_dialog import SEND, AskCertificateDialog
from .texts import NO_IDENTITY, REQUEST_BODY, REQUEST_SUBJECT
from .work import SendReport, compose_and_send, compose_in_task

if TYPE_CHECKING:
    from .view import ComposeView

    _Base = ComposeView
else:
    _Base = object


class AskActions(_Base):
    def confirm_request(self, email: str, sender: str, *, can_send: bool) -> tuple[str, str] | None:
        """Show what is sent and why; (SEND or SAVE, the text) or None (tests replace this)."""
        dialog = AskCertificateDialog(self, email, sender, REQUEST_SUBJECT, REQUEST_BODY, can_send=can_send)
        dialog.exec()
        return (dialog.choice, dialog.body()) if dialog.choice is not None else None

    def ask_for_certificate(self, email: str) -> None:
        """Show the request to ``email``; then send it (or save it) signed, not encrypted."""
        if self.busy():
            return
        stores = self.ctx.stores()
        identities = stores.identities.list()
        if not identities:
            self._show("error", NO_IDENTITY)
            return
        default = next((i for i in identities if i.is_default), identities[0])
        accounts = stores.accounts.list()
        answer = self.confirm_request(email, f"{default.info.display_name} <{default.emails[0]}>", can_send=bool(accounts))
        if answer is None:
            self._show("info", f"Nothing was sent to {email}.")
            return
        way, body = answer
        request = services.ComposeInput(
            sender=None, to=(email,), subject=REQUEST_SUBJECT, body=body, sign_key=None,
            out=Path("request.eml"), sign=True, encrypt=False,
        )
        if way == SEND and accounts:
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
                return compose_and_send(ctx, request, secret, password, account, control)

            self._run(f"Asking {email} for their certificate...", send_work, lambda report: self._asked(email, report))
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
            return compose_in_task(ctx.stores(), request, secret, control)

        self._run(f"Writing the request to {email}...", save_work, lambda outcome: self._request_saved(email, outcome))

    def _asked(self, email: str, report: SendReport) -> None:
        self.last_outcome, self.last_report = report.outcome, report
        lines = [d.message for d in report.delivered]
        if report.all_sent:
            head = (f"Asked {email} for their certificate. When they reply with a signed e-mail, open it: their "
                    "certificate is then added to your contacts.")
        else:
            head = f"The request to {email} was not sent yet; it waits in the Outbox."
        self._show("ok" if report.all_sent else "warn", head, "\n".join(lines))

    def _request_saved(self, email: str, outcome: services.ComposeOutcome) -> None:
        self.last_outcome, self.last_report = outcome, None
        self._show("ok", (
            f"Saved the request to {outcome.result.path}. Send it to {email} from your mail program (it is "
            "signed, not encrypted). When they reply with a signed e-mail, open it: their certificate is then "
            "added to your contacts."
        ))
