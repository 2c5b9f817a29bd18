"""Compose's checks before anything is asked, and the chip's "Trust..." for a recipient.

A mixin of :class:`~smimehelper.gui.compose.view.ComposeView`. Before the passphrase is asked
and before a byte is encrypted, :func:`services.check_before_sending` looks at every recipient
and at the size; every problem is named at once, each with its way out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import services
from ...core.errors import UserError

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
                limit=self.size_limit() if sending else None, limit_source=self._limit_source or "your mail account",
            )
        except UserError as exc:
            self._show("error", str(exc))
            return False
        self.last_preflight = found
        if found.ok:
            return True
        sentences = found.sentences()
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
