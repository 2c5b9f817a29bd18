"""Compose's checks: the recipients' certificates (in the background, for the chips), every
problem before anything is asked, and the chip's "Trust..." for a recipient.

A mixin of :class:`~smimehelper.gui.compose.view.ComposeView`. Before the passphrase is asked
and before a byte is encrypted, :func:`services.check_before_sending` looks at every recipient
and at the size; every problem is named at once, each with its way out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ... import services
from ...core.errors import UserError
from ..recipients import StatusBook
from ..tasks import TaskControl

if TYPE_CHECKING:
    from .view import ComposeView

    _Base = ComposeView
else:
    _Base = object


class ComposeChecks(_Base):
    last_preflight: services.Preflight | None = None

    def preflight(self, request: services.ComposeInput, *, sending: bool) -> bool:
        """True when nothing stops the message; else every problem is shown and False."""
        try:
            found = services.check_before_sending(
                self.ctx.stores(), (*request.to, *request.cc, *request.bcc), encrypt=request.encrypt,
                attachments=request.attachments, body_bytes=len(request.body.encode("utf-8")),
                # Sent as several messages, each part is made to fit the limit.
                limit=self.size_limit() if sending and not request.split else None,
                limit_source=self.limit_where(),
                sizes=self.travelling_sizes(),
            )
        except UserError as exc:
            self._show("error", str(exc))
            return False
        self.last_preflight = found
        if found.ok:
            return True
        sentences = found.sentences()
        if found.size is not None and self.split_offer.count() > 1:
            sentences.append(f"You can send it as {self.split_offer.count()} messages: tick \"Send as "
                             f"{self.split_offer.count()} messages\" under the files, then send again.")
        head = ("Nothing was built or sent, because:" if sending else "Nothing was saved, because:")
        self._show("error", "\n".join([head, *(f"\u2022 {s}" for s in sentences)]))
        return False

    def trust_recipient(self, email: str) -> None:
        """The chip's "Trust...": compare the fingerprint, trust the authority (or only the
        certificate); then the chips are checked again."""
        if self.busy():
            return
        from ..trust_dialog import TrustDialog

        entry = services.contact_for(self.ctx.stores(), email)
        if entry is None:
            self._show("error", f"There is no certificate for {email} among your contacts.")
            return
        if TrustDialog.offer(self, self.ctx, entry.cert, entry.chain, email):
            self._show("ok", f"Trusted: messages can now be encrypted to {email}.")
            self.refresh()

    # -- the recipients' certificates, checked in the background ------------------------------
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
        self._update_size()  # each recipient adds to every message (and to the count of a split)

    def _check_online(self) -> None:
        """Revocation of the recipients' certificates, checked online, one address at a time."""
        book = self._book
        if book is None:
            return
        emails = [e for e in self.to_field.emails() + self.cc_field.emails() if e not in self._online_checked]
        for email in dict.fromkeys(emails):
            if not any(s.status.value == "revocation_unknown" for s in book.statuses.get(email, [])):
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
