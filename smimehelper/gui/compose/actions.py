"""The three ways out of Compose (Send, Send with Thunderbird, Save .eml) and how their progress
and results are shown (the certificate request is :mod:`.ask`, the checks first :mod:`.checks`).

A mixin of :class:`~smimehelper.gui.compose.view.ComposeView`: it uses the view's widgets and
hands the slow work to :mod:`.work` on the task runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog

from ... import services
from ...core.display import human_size
from ...core.errors import UserError
from ...core.handoff.profiles import ProfileChoiceNeeded
from ...core.transport.accounts import Account
from ..tasks import TaskControl
from ..words import cipher_name
from .texts import PURPOSES, NO_ACCOUNT, NO_IDENTITY, SENDING
from .work import SendReport, compose_and_send, compose_for_thunderbird, compose_in_task

if TYPE_CHECKING:
    from .view import ComposeView

    _Base = ComposeView
else:
    _Base = object


class ComposeActions(_Base):
    """Send, hand off, save; busy state, progress and the result line."""

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
            return compose_and_send(ctx, request, secret, password, account, control)

        self._run("Building the encrypted message...", work, self._sent)

    def open_in_mail_program(self) -> None:
        """Build the message, put it into Thunderbird's Outbox and start Thunderbird (detached:
        nothing waits for it). What can fail without the message -- no Thunderbird, Thunderbird
        still open -- is checked first, so no passphrase is asked and no file built in vain."""
        if self.busy():
            return
        request = self._request()
        if request is None:
            return
        profile = self._thunderbird_profile()
        if profile is None:
            return
        stores = self.ctx.stores()
        secret = self._passphrase(stores, request.sign)
        if secret is None:
            return
        ctx = self.ctx

        def work(control: TaskControl) -> services.ComposedHandoff:
            return compose_for_thunderbird(ctx.stores(), request, secret, profile, control)

        self._run("Building the encrypted message...", work, self._handed_over)

    def _thunderbird_profile(self) -> Path | None:
        """The Thunderbird profile to use (asked for when there are several); None after an error."""
        from ...core.handoff.thunderbird import preflight

        try:
            return preflight(self.thunderbird_profile_dir).path
        except ProfileChoiceNeeded as exc:
            folder = QFileDialog.getExistingDirectory(self, "Your Thunderbird profile folder", str(Path.home() / ".thunderbird"))
            if not folder:
                self._show("info", str(exc))
                return None
            self.thunderbird_profile_dir = Path(folder)
            try:
                return preflight(self.thunderbird_profile_dir).path
            except UserError as again:
                self._show("error", str(again))
                return None
        except UserError as exc:
            self._show("error", str(exc))
            return None

    def save_eml(self) -> None:
        """Build the message into a file the user chooses."""
        if self.busy():
            return
        request = self._request(sending=False)
        if request is None:
            return
        stores = self.ctx.stores()
        if not stores.identities.list():
            self._show("error", NO_IDENTITY)
            return
        out = self._save_target(request)
        if out is None:
            return
        secret = self._passphrase(stores, request.sign)
        if secret is None:
            return
        ctx = self.ctx
        request = replace(request, out=out)

        def work(control: TaskControl) -> services.ComposeOutcome:
            return compose_in_task(ctx.stores(), request, secret, control)

        self._run("Building the encrypted message...", work, self._saved)

    def _save_target(self, request: services.ComposeInput) -> Path | None:
        """The file the user chooses for the message; None when they cancel."""
        start = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or Path.home())
        chosen, _filter = QFileDialog.getSaveFileName(
            self, "Save the message", str(start / "encrypted-message.eml"), "E-mail messages (*.eml);;All files (*)"
        )
        if not chosen:
            return None
        out = Path(chosen)
        return out if out.suffix else out.with_suffix(".eml")


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
        if account.uses_oauth:
            return b""  # signs in with its provider: never a password prompt (the sign-in is used)
        password = stores.accounts.password(account) or self.ask_account_password(account)
        if password is None:
            self._show("info", "Nothing was sent: the password of your mail account is needed to send.")
        return password

    def _request(self, *, sending: bool = True) -> services.ComposeInput | None:
        """What the user wrote, checked for every problem that can be seen before the passphrase
        is asked (the form, each recipient's certificate, the size when ``sending``); None after
        an error, with all the problems shown."""
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
        request = services.ComposeInput(
            sender=None, to=to, cc=cc, subject=self.subject_edit.text().strip(), body=self.body_edit.toPlainText(),
            sign_key=None, out=Path("message.eml"), attachments=tuple(self.attachments()), sign=sign, encrypt=encrypt,
            purpose=self.purpose_edit.currentText().strip() or PURPOSES[0],
        )
        request = self._with_options(request)
        return request if self.preflight(request, sending=sending) else None

    def _with_options(self, request: services.ComposeInput) -> services.ComposeInput:
        """The request with what the view's other panels chose (DICOM options: see the view)."""
        return request

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
        for widget in (self.send_button, self.open_button, self.save_button):
            widget.setEnabled(not busy)
        self.files.set_busy(busy)
        self.progress_area.setVisible(busy)
        if busy:
            self.result.hide()
            self.cancel_button.setEnabled(True)
            self.progress_bar.setRange(0, 0)  # busy until the first progress report
            self.progress_bar.setValue(0)
            self.progress_label.setText(what)

    def _progress(self, done: int, total: int) -> None:
        if self._control is None:
            return
        if total == SENDING:
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

    def _show(self, kind: str, text: str, details: str = "") -> None:
        self.result.show_text(kind, text, details)

    def result_text(self) -> str:
        return self.result_label.text() if not self.result.isHidden() else ""

    def result_kind(self) -> str:
        return str(self.result_label.property("kind") or "")

    def result_details(self) -> str:
        return self.result.details.text() if not self.result.isHidden() else ""

    @staticmethod
    def _describe(outcome: services.ComposeOutcome) -> list[str]:
        result = outcome.result
        lines = []
        if result.signed and result.encrypted:
            lines.append(f"Signed with your certificate and encrypted: only these can read it: {', '.join(result.recipients)}.")
        elif result.signed:
            lines.append("Signed with your certificate; not encrypted.")
        elif result.encrypted:
            lines.append(f"Encrypted (not signed): only these can read it: {', '.join(result.recipients)}.")
        else:
            lines.append("Not encrypted.")
        lines += [f"Note: {w}" for w in outcome.warnings]
        return lines

    @staticmethod
    def _technical(outcome: services.ComposeOutcome, extra: list[str] | None = None) -> str:
        result = outcome.result
        lines = list(extra or [])
        if result.encrypted:
            lines.append(f"Encryption: S/MIME enveloped data, {cipher_name(result.cipher) or result.cipher}")
        if result.signed:
            lines.append("Signature: S/MIME detached signature (SHA-256)")
        if outcome.parts:
            lines += [f"Part {n} of {len(outcome.parts)}: {p.path.name}, {p.size} bytes" for n, p in enumerate(outcome.parts, start=1)]
        else:
            lines.append(f"Message size: {result.size} bytes")
        return "\n".join(lines)

    def _sent(self, report: SendReport) -> None:
        self.last_outcome, self.last_report = report.outcome, report
        lines = [d.message for d in report.delivered]
        recipients = ", ".join(dict.fromkeys(r for item in report.items for r in item.recipients))
        sent = [d for d in report.delivered if d.item.state == "sent"]
        parts = report.outcome.parts
        if report.all_sent and parts:
            head = (f"Sent to {recipients} as {len(parts)} messages "
                    f"({human_size(sum(p.size for p in parts))} together, the largest {human_size(max(p.size for p in parts))}).")
        elif report.all_sent:
            head = f"Sent to {recipients} ({human_size(report.outcome.result.size)})."
        elif sent:
            head = f"Only part was sent ({len(sent)} of {len(report.items)} messages); the rest waits in the Outbox."
        else:
            head = f"Not sent yet: the message to {recipients} waits in the Outbox (see there for why)."
        self._show("ok" if report.all_sent and not report.outcome.warnings else "warn",
                   "\n".join([head, *self._describe(report.outcome)]),
                   self._technical(report.outcome, [f"Mail server: {line}" for line in lines]))
        if report.all_sent:
            self.clear_message()

    def _handed_over(self, handed: services.ComposedHandoff) -> None:
        self.last_outcome, self.last_report = handed.outcome, handed
        self._show("warn" if handed.outcome.warnings else "ok", "\n".join([
            *handed.report.lines, *self._describe(handed.outcome),
        ]), self._technical(handed.outcome))
        self.clear_message()  # it is in Thunderbird's hands now: a second click would queue it twice

    def _saved(self, outcome: services.ComposeOutcome) -> None:
        self.last_outcome, self.last_report = outcome, None
        if outcome.parts:
            head = (f"Saved {len(outcome.parts)} messages to {outcome.result.path.parent}: "
                    f"{outcome.parts[0].path.name} to {outcome.parts[-1].path.name} "
                    f"({human_size(sum(p.size for p in outcome.parts))} together).")
        else:
            head = f"Saved the message to {outcome.result.path} ({human_size(outcome.result.size)})."
        self._show("warn" if outcome.warnings else "ok", "\n".join([head, *self._describe(outcome)]), self._technical(outcome))
