"""Your own certificates ("My certificates"): details, expiry warning, import, export, requests.

Importing a .p12 and making a certificate request (key generation takes a moment for RSA 3072)
run on a worker thread; every passphrase is asked first, on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
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
from ..core.errors import UserError
from ..core.identity_store import StoredIdentity
from .cert_words import for_email, issuer_text, purpose_text, usage_text
from .context import GuiContext
from .identity_import import P12_FILTER, IdentityImports, _fixed  # noqa: F401 (re-exported)
from .request_dialog import CertificateRequestDialog, RequestDetails  # noqa: F401 (re-exported)
from .style import STATUS_COLOURS, icon
from .widgets import CAUTION, GOOD, INFO, PROBLEM, Banner, Details, alive, fingerprint_groups, plain_label, visible
from .words import local_date



class IdentityView(IdentityImports, QWidget):
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
        self.list.setWordWrap(True)  # nothing cut off: every line of a certificate readable
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSpacing(3)
        self.list.currentItemChanged.connect(lambda *_: self._show_details())

        self.details = QGroupBox("Certificate")
        form = QFormLayout(self.details)
        self.fields: dict[str, QLabel] = {}
        for key, caption in (("name", "Name:"), ("email", "E-mail:"), ("purpose", "For:"), ("issuer", "Issued by:"),
                             ("valid_from", "Valid from:"), ("valid_until", "Valid until:"),
                             ("fingerprint", "Fingerprint (SHA-256):"), ("protection", "Key protection:"), ("default", "Default:")):
            label = plain_label()
            label.setAccessibleName(caption.rstrip(":"))
            self.fields[key] = label
            form.addRow(caption, label)
        self.fields["fingerprint"].setStyleSheet("font-family: monospace;")
        self.technical = Details(name="Technical details")
        form.addRow("", self.technical)

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
        splitter.setSizes([340, 560])
        self.list.setMinimumWidth(280)
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
            item = QListWidgetItem(icon("certificate"), list_text(stored, now))
            item.setData(Qt.ItemDataRole.UserRole, stored)
            item.setToolTip(list_text(stored, now).replace("\n", "; "))
            item.setData(Qt.ItemDataRole.AccessibleTextRole, list_text(stored, now).replace("\n", ", "))
            if not for_email(stored.cert) or stored.expired(now):
                item.setForeground(QBrush(QColor(STATUS_COLOURS["expired"])))
            self.list.addItem(item)
        self.list.blockSignals(False)
        if identities and not (keep is not None and self.select(keep.fingerprint)):
            self.list.setCurrentRow(0)
        warnings = [w for w in (s.expiry_warning(now) for s in identities) if w]
        default = next((i for i in identities if i.is_default), None)
        if default is not None and not for_email(default.cert):
            usable = [i for i in identities if for_email(i.cert) and not i.expired(now)]
            hint = (" Select the e-mail certificate and press Set as default." if usable else
                    " Import your e-mail (S/MIME) certificate: your provider may have given you several files.")
            warnings.insert(0, f"Your default certificate is not for e-mail ({purpose_text(default.cert)}), so it cannot "
                               f"sign or receive encrypted mail.{hint}")
        if warnings:
            self.expiry_banner.show_message("\n".join(visible(w) for w in warnings), CAUTION)
        else:
            self.expiry_banner.clear()
        if not identities:
            self.banner.show_message(
                "You have not imported your certificate yet. Import your .p12 file, or create a "
                "certificate request for your provider.", INFO)
        elif self.banner.text().startswith("You have not imported your certificate yet"):
            self.banner.clear()  # one is listed now
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
        fields["purpose"].setText(purpose_text(stored.cert))
        fields["purpose"].setStyleSheet("" if for_email(stored.cert) else f"color: {STATUS_COLOURS['wrong_usage']};")
        fields["issuer"].setText(visible(issuer_text(stored.cert)))
        fields["valid_from"].setText(local_date(info.not_before))
        expired = " (expired: kept to open old mail, no longer signs)" if stored.expired(now) else ""
        fields["valid_until"].setText(f"{local_date(info.not_after)}{expired}")
        fields["fingerprint"].setText(fingerprint_groups(info.fingerprint_sha256))
        fields["protection"].setText(
            "Encrypted on this computer, unlocked by a secret in the system keyring" if stored.protection == "keyring"
            else "Encrypted on this computer, unlocked by your passphrase")
        fields["default"].setText("Yes: signs your messages" if stored.is_default else "No")
        self.technical.set_text("\n".join([
            f"Subject: {visible(info.subject)}",
            f"Issuer: {visible(info.issuer)}",
            f"Key and usage: {usage_text(info)}",
            f"Valid (UTC): {info.not_before:%Y-%m-%d %H:%M} to {info.not_after:%Y-%m-%d %H:%M}",
            f"Serial number: {info.serial_number:x}",
            f"SHA-256: {info.fingerprint_sha256}",
        ]))

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


def list_text(stored: StoredIdentity, now: object) -> str:
    """The lines that tell your certificates apart: who, and whether it is the default; the
    address; what it is for; who issued it and until when."""
    info = stored.info
    flags = [" - default" if stored.is_default else "", " - expired" if stored.expired(now) else ""]  # type: ignore[arg-type]
    return (f"{visible(info.display_name)}{''.join(flags)}\n{visible(', '.join(stored.emails))}\n"
            f"{purpose_text(stored.cert)}\nfrom {visible(issuer_text(stored.cert))}, until {local_date(info.not_after)}")


__all__ = ["IdentityView", "CertificateRequestDialog", "RequestDetails", "list_text"]
