"""My certificates: importing your certificate (.p12, or the one returned for a request made
here) and making a certificate request; every passphrase is asked first, on the GUI thread.

A mixin of :class:`~smimehelper.gui.identity_view.IdentityView`. A certificate that cannot be
used for e-mail is refused by the store with a sentence saying what it is for; that sentence
is what the banner shows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QFileDialog

from .. import services
from ..core.atomic import write_atomic
from ..core.errors import PassphraseError, UserError
from ..core.identity_requests import PendingRequest
from ..core.identity_store import StoredIdentity
from .cert_words import purpose_text
from .request_dialog import CertificateRequestDialog
from .widgets import CAUTION, GOOD, INFO, PROBLEM, visible

if TYPE_CHECKING:
    from .identity_view import IdentityView

    _Base = IdentityView
else:
    _Base = object

P12_FILTER = "Certificate with key (*.p12 *.pfx)"
RETURNED_FILTER = "Certificate from your provider, for a request made here (*.pem *.cer *.crt *.der *.p7b *.p7c)"
RETURNED_SUFFIXES = {".pem", ".cer", ".crt", ".der", ".p7b", ".p7c"}
MIN_PASSPHRASE = 8
PASSPHRASE_TRIES = 3


class IdentityImports(_Base):
    def create_request(self) -> None:
        """Ask for the details, where to save the request, a passphrase if needed; then make the
        key and the CSR off the GUI thread and save the CSR."""
        current = self.selected()
        details = CertificateRequestDialog.ask(
            self, current.emails[0] if current else "", current.info.display_name if current else "")
        if details is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save certificate request", f"{details.email}.csr",
                                              "Certificate request (*.csr *.pem);;All files (*)")
        if not path:
            return
        target = Path(path)
        new_passphrase = b""
        ctx = self.ctx
        stores = ctx.stores()
        if not stores.identities.secrets.available():
            asked = self._new_passphrase("the new key")
            if asked is None:
                return
            new_passphrase = asked

        def work(_control: Any) -> PendingRequest:
            request = ctx.stores().identities.new_request(
                details.email, details.name, details.use_ec, (lambda _p: new_passphrase) if new_passphrase else None)
            try:
                write_atomic(target, request.csr_pem, mode=0o644)
            except OSError as exc:
                raise UserError(f"Cannot write {target}: {exc.strerror}.") from None
            return request

        def done(_request: PendingRequest) -> None:
            self.banner.show_message(
                f"Wrote the certificate request to {visible(str(target))}. Send it to your certificate provider; "
                "when they send your certificate, import it here with \"Import certificate\".", GOOD)

        self.banner.show_message("Making a new key and the request ...", INFO)
        self._start(work, done, lambda message: self.banner.show_message(f"No request was made: {message}", PROBLEM))

    def import_certificate(self) -> None:
        """Import a .p12/.pfx (asking its passphrase), or the certificate returned for a request."""
        path, chosen = QFileDialog.getOpenFileName(self, "Import certificate", self._last_folder,
                                                   f"{P12_FILTER};;{RETURNED_FILTER};;All files (*)")
        if not path:
            return
        source = Path(path)
        self._last_folder = str(source.parent)
        ctx = self.ctx
        keyring = ctx.stores().identities.secrets.available()
        suffix = source.suffix.lower()
        returned = suffix in RETURNED_SUFFIXES or (suffix not in (".p12", ".pfx") and chosen == RETURNED_FILTER)
        if not returned:
            passphrase = self.ctx.ask_secret(self, "Import certificate", f"Passphrase of {visible(source.name)} (leave empty if it has none):")
            if passphrase is None:
                return
            new_passphrase = passphrase
            if not keyring and not passphrase:
                asked = self._new_passphrase("your key")
                if asked is None:
                    return
                new_passphrase = asked

            def work(_control: Any) -> StoredIdentity:
                return ctx.stores().identities.import_pkcs12(source, _fixed(passphrase), ask_new=_fixed(new_passphrase))
        else:
            secret = b""
            if not keyring:
                asked = self.ctx.ask_secret(self, "Import certificate", "Passphrase you chose when making the certificate request:")
                if asked is None:
                    return
                secret = asked

            def work(_control: Any) -> StoredIdentity:
                return ctx.stores().identities.import_certificate(source, _fixed(secret))

        def done(stored: StoredIdentity) -> None:
            self.refresh()
            self.select(stored.fingerprint)
            current = self.selected() or stored
            notice = stored.expiry_warning(services.clock())
            text = f"Imported your certificate for {visible(', '.join(stored.emails))} ({purpose_text(stored.cert)})."
            if current.is_default:
                text += " It now signs your messages."
            else:
                text += " Your messages are still signed with your default certificate; press Set as default to use this one."
            self.banner.show_message(f"{text} {visible(notice)}" if notice else text, CAUTION if notice else GOOD)
            self.identities_changed.emit()

        self.banner.show_message(f"Importing {visible(source.name)} ...", INFO)
        self._start(work, done, lambda message: self.banner.show_message(f"Nothing was imported: {message}", PROBLEM))

    def _new_passphrase(self, what: str) -> bytes | None:
        """A new passphrase (asked twice) for keys on a computer without a secure keyring."""
        for _ in range(PASSPHRASE_TRIES):
            first = self.ctx.ask_secret(
                self, "New passphrase",
                f"This computer has no secure keyring, so {what} is protected by a passphrase.\n"
                f"Choose one (at least {MIN_PASSPHRASE} characters):")
            if first is None:
                return None
            if len(first) < MIN_PASSPHRASE:
                self.banner.show_message(f"Choose a passphrase of at least {MIN_PASSPHRASE} characters.", PROBLEM)
                continue
            second = self.ctx.ask_secret(self, "New passphrase", "The same passphrase again:")
            if second is None:
                return None
            if second == first:
                return first
            self.banner.show_message("The two passphrases differ; please try again.", PROBLEM)
        return None


def _fixed(secret: bytes) -> Callable[[str], bytes]:
    def ask(_prompt: str) -> bytes:
        if not secret:
            raise PassphraseError("A passphrase is needed; please try again and give it.")
        return secret

    return ask


__all__ = ["IdentityImports", "P12_FILTER", "RETURNED_FILTER"]
