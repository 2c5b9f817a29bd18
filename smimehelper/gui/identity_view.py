"""Your own certificates ("My certificates"): details, expiry warning, import, export, requests.

Importing a .p12 and making a certificate request (key generation takes a moment for RSA 3072)
run on a worker thread; every passphrase is asked first, on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .. import services
from ..core.atomic import write_atomic
from ..core.errors import PassphraseError, UserError
from ..core.identity_store import PendingRequest, StoredIdentity
from .contacts_view import usage_text
from .context import GuiContext
from .open_view import CAUTION, GOOD, INFO, PROBLEM, Banner, alive, fingerprint_lines, plain_label, visible
from .style import icon

P12_FILTER = "Certificate with key (*.p12 *.pfx)"
RETURNED_FILTER = "Certificate from your provider, for a request made here (*.pem *.cer *.crt *.der *.p7b *.p7c)"
RETURNED_SUFFIXES = {".pem", ".cer", ".crt", ".der", ".p7b", ".p7c"}
MIN_PASSPHRASE = 8
PASSPHRASE_TRIES = 3


@dataclass(frozen=True)
class RequestDetails:
    email: str
    name: str
    use_ec: bool


class CertificateRequestDialog(QDialog):
    """Asks for the e-mail address, the name and the key type of a new certificate request."""

    KEY_CHOICES = (
        ("RSA 3072 (works with every mail program)", False),
        ("EC P-256 (smaller and modern; some older mail programs cannot use it)", True),
    )

    def __init__(self, parent: QWidget | None = None, email: str = "", name: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Create certificate request")
        intro = plain_label(
            "smimehelper makes a new key on this computer and a request (CSR) for your certificate "
            "provider. The key never leaves this computer. When the provider sends your certificate, "
            "import it with \"Import certificate\".", selectable=False)
        self.email = QLineEdit(email)
        self.email.setPlaceholderText("you@practice.example")
        self.email.setAccessibleName("E-mail address")
        self.name = QLineEdit(name)
        self.name.setPlaceholderText("Dr Jane Example")
        self.name.setAccessibleName("Your name")
        self.key_type = QComboBox()
        for text, _ in self.KEY_CHOICES:
            self.key_type.addItem(text)
        self.key_type.setAccessibleName("Key type")
        self.key_type.setToolTip("RSA is understood everywhere; choose EC only if your provider asks for it")
        form = QFormLayout()
        for caption, widget in (("&E-mail address:", self.email), ("&Name:", self.name), ("&Key type:", self.key_type)):
            label = QLabel(caption)
            label.setBuddy(widget)
            form.addRow(label, widget)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create request...")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.email.textChanged.connect(self._check)
        self.name.textChanged.connect(self._check)
        self._check()

    def _check(self) -> None:
        email = self.email.text().strip()
        ok = "@" in email and "." in email.rsplit("@", 1)[-1] and " " not in email and bool(self.name.text().strip())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def details(self) -> RequestDetails:
        return RequestDetails(self.email.text().strip().lower(), self.name.text().strip(),
                              self.KEY_CHOICES[self.key_type.currentIndex()][1])

    @classmethod
    def ask(cls, parent: QWidget | None, email: str = "", name: str = "") -> RequestDetails | None:
        """Show the dialog; the details, or None when cancelled."""
        dialog = cls(parent, email, name)
        return dialog.details() if dialog.exec() == QDialog.DialogCode.Accepted else None


class IdentityView(QWidget):
    """The "My certificates" tab.

    Public API: ``refresh()``, ``selected()`` (a StoredIdentity or None), ``select(fingerprint)``,
    ``export_certificate()``, ``copy_fingerprint()``, ``create_request()``, ``import_certificate()`` (.p12, or the
    certificate returned for a request), ``remove_selected()``, ``set_default_selected()``,
    ``is_busy()``; ``expiry_banner``, ``banner``, ``list``, ``fields`` (label per detail);
    signal ``identities_changed()``.
    """

    identities_changed = Signal()

    def __init__(self, ctx: GuiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._busy = 0
        self._last_folder = ""
        self._build()
        self.refresh()

    def _build(self) -> None:
        self.expiry_banner = Banner(name="Certificate expiry")
        self.list = QListWidget()
        self.list.setAccessibleName("Your certificates")
        self.list.setToolTip("Your own certificates; the default one signs your messages")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.currentItemChanged.connect(lambda *_: self._show_details())

        self.details = QGroupBox("Certificate")
        form = QFormLayout(self.details)
        self.fields: dict[str, QLabel] = {}
        for key, caption in (("name", "Name:"), ("email", "E-mail:"), ("issuer", "Issuer:"), ("valid_from", "Valid from:"),
                             ("valid_until", "Valid until:"), ("key", "Key and usage:"),
                             ("fingerprint", "Fingerprint (SHA-256):"), ("protection", "Key protection:"), ("default", "Default:")):
            label = plain_label()
            label.setAccessibleName(caption.rstrip(":"))
            self.fields[key] = label
            form.addRow(caption, label)
        self.fields["fingerprint"].setStyleSheet("font-family: monospace;")

        self.export_button = self._button("certificate", "&Export public certificate...", "Save your public certificate (PEM) to give to colleagues, so they can encrypt to you", self.export_certificate)
        self.request_button = self._button("lock", "Create certificate &request...", "Make a new key and a request (CSR) to send to your certificate provider", self.create_request)
        self.import_button = self._button("certificate", "&Import certificate (.p12)...", "Import your certificate with its key (.p12 or .pfx), or the certificate your provider sent for a request made here", self.import_certificate)
        self.remove_button = self._button("", "&Remove", "Remove the selected certificate and its key from smimehelper", self.remove_selected)
        self.default_button = self._button("ok", "Set as &default", "Sign your messages with the selected certificate", self.set_default_selected)
        self.copy_button = self._button("", "&Copy fingerprint", "Copy the fingerprint to the clipboard, so colleagues can check they have your real certificate", self.copy_fingerprint)
        buttons = QVBoxLayout()
        for button in (self.import_button, self.request_button, self.export_button, self.copy_button, self.default_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.list)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([300, 600])
        self.list.setMinimumWidth(220)
        middle = QHBoxLayout()
        middle.addWidget(splitter, 1)
        middle.addLayout(buttons)

        self.banner = Banner(name="Status")
        layout = QVBoxLayout(self)
        layout.addWidget(self.expiry_banner)
        layout.addLayout(middle, 1)
        layout.addWidget(self.banner)
        delete = QShortcut(QKeySequence.StandardKey.Delete, self.list)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.remove_selected)

    def _button(self, icon_name: str, text: str, tip: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(icon(icon_name), text)
        button.setToolTip(tip)
        button.setAccessibleName(text.replace("&", "").rstrip("."))
        button.clicked.connect(lambda _checked=False: slot())
        return button

    # -- listing --------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        return self._busy > 0

    def refresh(self) -> None:
        keep = self.selected()
        try:
            identities = self.ctx.stores().identities.list()
        except UserError as exc:
            self.banner.show_message(str(exc), PROBLEM)
            return
        now = services.clock()
        self.list.blockSignals(True)
        self.list.clear()
        for stored in identities:
            info = stored.info
            state = " - expired" if stored.expired(now) else ""
            text = f"{visible(info.display_name)}\n{visible(', '.join(stored.emails))}{' - default' if stored.is_default else ''}{state}"
            item = QListWidgetItem(icon("certificate"), text)
            item.setData(Qt.ItemDataRole.UserRole, stored)
            item.setToolTip(f"Valid until {info.not_after:%Y-%m-%d}")
            self.list.addItem(item)
        self.list.blockSignals(False)
        if identities and not (keep is not None and self.select(keep.fingerprint)):
            self.list.setCurrentRow(0)
        warnings = [w for w in (s.expiry_warning(now) for s in identities) if w]
        if warnings:
            self.expiry_banner.show_message("\n".join(visible(w) for w in warnings), CAUTION)
        else:
            self.expiry_banner.clear()
        if not identities:
            self.banner.show_message(
                "You have not imported your certificate yet. Import your .p12 file, or create a "
                "certificate request for your provider.", INFO)
        self._show_details()

    def selected(self) -> StoredIdentity | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def select(self, fingerprint: str) -> bool:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole).fingerprint == fingerprint:
                self.list.setCurrentRow(row)
                return True
        return False

    def _show_details(self) -> None:
        stored = self.selected()
        for button in (self.export_button, self.remove_button, self.default_button, self.copy_button):
            button.setEnabled(stored is not None)
        if stored is None:
            for label in self.fields.values():
                label.setText("")
            return
        self.default_button.setEnabled(not stored.is_default)
        info = stored.info
        now = services.clock()
        fields = self.fields
        fields["name"].setText(visible(info.display_name))
        fields["email"].setText(visible(", ".join(info.emails)))
        fields["issuer"].setText(visible(info.issuer))
        fields["valid_from"].setText(f"{info.not_before:%Y-%m-%d %H:%M} UTC")
        expired = " (expired: kept to open old mail, no longer signs)" if stored.expired(now) else ""
        fields["valid_until"].setText(f"{info.not_after:%Y-%m-%d %H:%M} UTC{expired}")
        fields["key"].setText(usage_text(info))
        fields["fingerprint"].setText(fingerprint_lines(info.fingerprint_sha256))
        fields["protection"].setText(
            "Encrypted on this computer, unlocked by a secret in the system keyring" if stored.protection == "keyring"
            else "Encrypted on this computer, unlocked by your passphrase")
        fields["default"].setText("Yes: signs your messages" if stored.is_default else "No")

    # -- actions --------------------------------------------------------------------------------
    def export_certificate(self) -> None:
        """Save the selected certificate (public part only, PEM) where the user chooses."""
        stored = self.selected()
        if stored is None:
            return
        suggestion = str(Path(self._last_folder) / f"{stored.emails[0]}.pem") if self._last_folder else f"{stored.emails[0]}.pem"
        path, _ = QFileDialog.getSaveFileName(self, "Export public certificate", suggestion, "Certificate (*.pem);;All files (*)")
        if not path:
            return
        target = Path(path)
        try:
            pem = self.ctx.stores().identities.export_certificate(stored.fingerprint)
            write_atomic(target, pem, mode=0o644)
        except UserError as exc:
            self.banner.show_message(str(exc), PROBLEM)
            return
        except OSError as exc:
            self.banner.show_message(f"Cannot write {visible(str(target))}: {exc.strerror}.", PROBLEM)
            return
        self._last_folder = str(target.parent)
        self.banner.show_message(
            f"Saved your public certificate to {visible(str(target))}. Send it to your colleagues so they can encrypt to you.", GOOD)

    def copy_fingerprint(self) -> None:
        """Put the selected certificate's SHA-256 fingerprint (AA:BB:...) on the clipboard."""
        stored = self.selected()
        if stored is None:
            return
        QGuiApplication.clipboard().setText(stored.info.fingerprint_sha256)
        self.banner.show_message("Copied the fingerprint of your certificate to the clipboard.", INFO)

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
            notice = stored.expiry_warning(services.clock())
            text = f"Imported your certificate for {visible(', '.join(stored.emails))}."
            self.banner.show_message(f"{text} {visible(notice)}" if notice else text, CAUTION if notice else GOOD)
            self.identities_changed.emit()

        self.banner.show_message(f"Importing {visible(source.name)} ...", INFO)
        self._start(work, done, lambda message: self.banner.show_message(f"Nothing was imported: {message}", PROBLEM))

    def remove_selected(self) -> None:
        stored = self.selected()
        if stored is None:
            return
        emails = visible(", ".join(stored.emails))
        answer = QMessageBox.question(
            self, "Remove your certificate",
            f"Remove your certificate for {emails} and its key from smimehelper?\n\nMessages encrypted to "
            "this certificate can then no longer be opened here, unless you import its .p12 file again.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.ctx.stores().identities.remove(stored.fingerprint)
        except UserError as exc:
            self.banner.show_message(str(exc), PROBLEM)
            return
        self.refresh()
        self.banner.show_message(f"Removed your certificate for {emails} and its key from smimehelper.", GOOD)
        self.identities_changed.emit()

    def set_default_selected(self) -> None:
        stored = self.selected()
        if stored is None:
            return
        try:
            self.ctx.stores().identities.set_default(stored.fingerprint)
        except UserError as exc:
            self.banner.show_message(str(exc), PROBLEM)
            return
        self.refresh()
        self.banner.show_message(f"Your messages are now signed with your certificate for {visible(', '.join(stored.emails))}.", GOOD)
        self.identities_changed.emit()

    # -- helpers ------------------------------------------------------------------------------------
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

    def _start(self, work: Callable[[Any], Any], done: Callable[[Any], None], error: Callable[[str], None]) -> None:
        self._busy += 1
        for button in (self.import_button, self.request_button):
            button.setEnabled(False)

        def finish() -> bool:
            if not alive(self):
                return False
            self._busy -= 1
            if not self._busy:
                for button in (self.import_button, self.request_button):
                    button.setEnabled(True)
            return True

        self.ctx.tasks.run(
            work,
            on_done=lambda result: finish() and done(result),
            on_error=lambda message: finish() and error(message),
        )


def _fixed(secret: bytes) -> Callable[[str], bytes]:
    def ask(_prompt: str) -> bytes:
        if not secret:
            raise PassphraseError("A passphrase is needed; please try again and give it.")
        return secret

    return ask


__all__ = ["IdentityView", "CertificateRequestDialog", "RequestDetails"]
