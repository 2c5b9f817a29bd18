"""The details of one contact certificate, and what can be done about its trust.

Plain words first (what it is for, who issued it, until when, why it can or cannot be used);
the key, usage names and full certificate names behind Details. For a certificate no trusted
authority vouches for: "Trust this authority..." and "Trust only this certificate...".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QWidget

from ..core.certs import CertInfo, describe
from .cert_words import chain_text, issuer_text, purpose_text, usage_text
from .contacts_table import status_words
from .style import STATUS_COLOURS, icon
from .widgets import Details, fingerprint_groups, plain_label, visible
from .words import local_date, local_time

if TYPE_CHECKING:
    from .. import services
    from ..core.contacts import ContactCert

FIELDS = (("name", "Name:"), ("email", "E-mail:"), ("status", "Status:"), ("reason", "Why:"),
          ("purpose", "For:"), ("issuer", "Issued by:"), ("valid", "Valid:"), ("trust", "Trusted:"),
          ("source", "Came from:"), ("fingerprint", "Fingerprint (SHA-256):"))


class ContactDetails(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Certificate details", parent)
        form = QFormLayout(self)
        self.labels: dict[str, QLabel] = {}
        for key, caption in FIELDS:
            label = plain_label()
            label.setAccessibleName(caption.rstrip(":"))
            self.labels[key] = label
            form.addRow(caption, label)
        self.labels["fingerprint"].setStyleSheet("font-family: monospace;")
        self.technical = Details(name="Technical details")
        form.addRow("", self.technical)
        self.copy_button = QPushButton("&Copy fingerprint")
        self.copy_button.setToolTip("Copy the fingerprint to the clipboard, to compare it with your colleague on the phone")
        self.copy_button.setAccessibleName("Copy fingerprint")
        self.trust_authority_button = QPushButton(icon("certificate"), "&Trust this authority...")
        self.trust_authority_button.setToolTip(
            "Compare the authority's fingerprint with your colleague by phone, then accept every certificate it issues")
        self.trust_authority_button.setAccessibleName("Trust this authority")
        self.trust_certificate_button = QPushButton("Trust &only this certificate...")
        self.trust_certificate_button.setToolTip(
            "Compare this certificate's fingerprint with your colleague by phone, then accept only this certificate")
        self.trust_certificate_button.setAccessibleName("Trust only this certificate")
        self.untrust_button = QPushButton("Stop &trusting this certificate")
        self.untrust_button.setToolTip("From now on only an authority you trust can vouch for this certificate")
        self.untrust_button.setAccessibleName("Stop trusting this certificate")
        buttons = QHBoxLayout()
        for button in (self.copy_button, self.trust_authority_button, self.trust_certificate_button, self.untrust_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        form.addRow("", buttons)

    def show_entry(self, entry: ContactCert | None, row: services.ContactRow | None, authorities: Sequence[CertInfo]) -> None:
        has = entry is not None
        self.setEnabled(has)
        self.copy_button.setEnabled(has)
        labels = self.labels
        if entry is None:
            for label in labels.values():
                label.setText("")
            labels["name"].setText("Select a certificate to see its details.")
            self.technical.set_text("")
            for button in (self.trust_authority_button, self.trust_certificate_button, self.untrust_button):
                button.hide()
            return
        info = describe(entry.cert)
        code = row.status.status.value if row is not None else "checking"
        labels["name"].setText(visible(info.display_name))
        labels["email"].setText(visible(", ".join(info.emails)))
        labels["status"].setText(status_words(code, entry))
        labels["status"].setStyleSheet(f"color: {STATUS_COLOURS[code]};" if code in STATUS_COLOURS else "")
        labels["reason"].setText(visible(row.status.reason) if row is not None and row.status.reason else
                                 ("Still being checked." if row is None else "Nothing to report: usable for encryption."))
        labels["purpose"].setText(purpose_text(entry.cert))
        labels["issuer"].setText(visible(issuer_text(entry.cert)))
        labels["valid"].setText(f"{local_date(info.not_before)} to {local_date(info.not_after)}")
        if entry.trusted_directly:
            labels["trust"].setText(f"You trust this certificate itself (since {local_date(entry.trusted_directly)}).")
        elif code in ("valid", "revocation_unknown"):
            labels["trust"].setText("An authority you trust vouches for it.")
        elif code == "untrusted_issuer":
            labels["trust"].setText("Not yet: no authority you trust vouches for it.")
        else:
            labels["trust"].setText("")
        source = visible(entry.source) or "unknown"
        labels["source"].setText(f"{source}, added {local_time(entry.added)}" if entry.added else source)
        labels["fingerprint"].setText(fingerprint_groups(info.fingerprint_sha256))
        self.technical.set_text("\n".join([
            f"Subject: {visible(info.subject)}",
            f"Key and usage: {usage_text(info)}",
            f"Issuer chain:\n{chain_text(info, [*(describe(c) for c in entry.chain), *authorities])}",
            f"Valid (UTC): {info.not_before:%Y-%m-%d %H:%M} to {info.not_after:%Y-%m-%d %H:%M}",
            f"Serial number: {info.serial_number:x}",
            f"SHA-256: {info.fingerprint_sha256}",
        ]))
        untrusted = code == "untrusted_issuer"
        self.trust_authority_button.setVisible(untrusted)
        self.trust_certificate_button.setVisible(untrusted)
        self.untrust_button.setVisible(bool(entry.trusted_directly))


__all__ = ["ContactDetails", "FIELDS"]
