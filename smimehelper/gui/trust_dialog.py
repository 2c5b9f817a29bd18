"""Trust a colleague: their authority, or only their certificate, after comparing a fingerprint.

Like Thunderbird's "trust this CA to identify e-mail users", with what a dentist needs to do it
safely: the authority's name in words, its SHA-256 fingerprint in groups of four to compare
with what the colleague reads out on the phone, a plain warning of what trusting means, and a
box to tick ("I compared it") before the Trust button works. The full names and the colon form
of the fingerprint are behind Details. The decision itself is kept by :mod:`..services.trust`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from .. import services
from ..core.certs import describe
from ..core.errors import UserError
from .context import GuiContext
from .widgets import LEVEL_COLOURS, PROBLEM, Details, plain_label, visible
from .words import local_date

AUTHORITY, CERTIFICATE = "authority", "certificate"
CERT_FILES = "Certificates (*.pem *.crt *.cer *.der *.p7b *.p7c);;All files (*)"


class TrustDialog(QDialog):
    """``TrustDialog.offer(parent, ctx, cert, chain, email)``: True when something was trusted."""

    def __init__(self, parent: QWidget | None, ctx: GuiContext, cert: x509.Certificate,
                 chain: Sequence[x509.Certificate] = (), email: str = "", prefer: str = AUTHORITY) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.cert, self.chain = cert, tuple(chain)
        stores = ctx.stores()
        info = describe(cert)
        self.email = (email or (info.emails[0] if info.emails else "")).lower()
        self.holder = visible(info.display_name)
        self.authority = services.authority_offer(stores, cert, self.chain, self.email)
        self.certificate = services.certificate_offer(stores, cert, self.email)
        self.trusted: str | None = None  # AUTHORITY or CERTIFICATE once done
        self.setWindowTitle(f"Trust {self.holder}?")
        self.setMinimumWidth(560)
        self._build()
        chosen = self.certificate_choice if prefer == CERTIFICATE else self.authority_choice
        chosen.setChecked(True)
        self._update()

    # -- layout --------------------------------------------------------------------------------
    def _build(self) -> None:
        who = f"{self.holder} <{visible(self.email)}>" if self.email else self.holder
        intro = plain_label(
            f"The certificate of {who} was issued by {visible(self.authority.name)}, an authority you do not "
            "trust yet, so smimehelper cannot tell whether it really belongs to them.\n\n"
            f"Call {self.holder} on a number you already know (not one from an e-mail) and ask them to read "
            "out the fingerprint. Compare it with the one below, group by group.", selectable=False)
        self.authority_choice = QRadioButton(f"Trust the authority {visible(self.authority.name)}")
        self.authority_choice.setAccessibleName("Trust the authority")
        self.authority_note = plain_label(selectable=False)
        self.authority_note.setIndent(24)
        self.file_button = QPushButton("Choose the authority's certificate &file...")
        self.file_button.setToolTip(f"The certificate file of {self.authority.name} (.crt, .pem or .cer), sent by {self.holder}")
        self.file_button.clicked.connect(self.choose_authority_file)
        file_row = QHBoxLayout()
        file_row.addSpacing(24)
        file_row.addWidget(self.file_button)
        file_row.addStretch(1)
        self.certificate_choice = QRadioButton(f"Trust only this certificate of {self.holder}")
        self.certificate_choice.setAccessibleName("Trust only this certificate")
        self.certificate_note = plain_label(
            "Only this one certificate is accepted; others from the same authority are not. When it is "
            "renewed, you compare the new one the same way.", selectable=False)
        self.certificate_note.setIndent(24)
        group = QButtonGroup(self)
        for button in (self.authority_choice, self.certificate_choice):
            group.addButton(button)
            button.toggled.connect(lambda _on: self._update())

        self.fingerprint_caption = QLabel()
        self.fingerprint = plain_label()
        self.fingerprint.setAccessibleName("Fingerprint to compare")
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setWeight(QFont.Weight.DemiBold)
        self.fingerprint.setFont(font)
        self.fingerprint.setStyleSheet("padding: 6px; border: 1px solid palette(mid); border-radius: 4px;")
        self.warning = plain_label(selectable=False)
        self.warning.setStyleSheet(f"color: {LEVEL_COLOURS[PROBLEM]};")
        self.warning.setAccessibleName("Warning")
        self.compared = QCheckBox()
        self.compared.toggled.connect(lambda _on: self._update())
        self.problem = plain_label()
        self.problem.setStyleSheet(f"color: {LEVEL_COLOURS[PROBLEM]}; font-weight: bold;")
        self.problem.hide()
        self.details = Details(name="Certificate details")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.trust_button = self.buttons.addButton("&Trust", QDialogButtonBox.ButtonRole.AcceptRole)
        self.trust_button.setAccessibleName("Trust")
        self.buttons.accepted.connect(self.trust)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addSpacing(4)
        layout.addWidget(self.authority_choice)
        layout.addWidget(self.authority_note)
        layout.addLayout(file_row)
        layout.addWidget(self.certificate_choice)
        layout.addWidget(self.certificate_note)
        layout.addSpacing(4)
        layout.addWidget(self.fingerprint_caption)
        layout.addWidget(self.fingerprint)
        layout.addWidget(self.warning)
        layout.addWidget(self.compared)
        layout.addWidget(self.problem)
        layout.addWidget(self.details)
        layout.addWidget(self.buttons)

    # -- state ---------------------------------------------------------------------------------
    def choice(self) -> str:
        return CERTIFICATE if self.certificate_choice.isChecked() else AUTHORITY

    def fingerprint_text(self) -> str:
        return self.fingerprint.text()

    def _update(self) -> None:
        offer = self.authority
        known = offer.authority is not None
        if not known:
            self.authority_note.setText(
                f"Its certificate did not come with {self.holder}'s. Ask {self.holder} to send you the "
                "certificate file of their authority, then choose it here.")
        elif offer.already_trusted:
            self.authority_note.setText("You already trust this authority.")
        else:
            until = f" It is valid until {local_date(offer.valid_until)}." if offer.valid_until else ""
            self.authority_note.setText(
                "Every certificate this authority issues, for anyone, is then accepted as proof of who they are. "
                f"Choose this when it is your colleague's practice or hospital authority.{until}")
        self.file_button.setVisible(not known)
        if self.certificate.already_trusted:
            self.certificate_note.setText("You already trust this certificate.")
        by_authority = self.choice() == AUTHORITY
        if by_authority:
            self.fingerprint_caption.setText(f"Fingerprint of the authority {visible(offer.name)} (SHA-256):")
            self.fingerprint.setText(offer.fingerprint or "(its certificate is needed first)")
            self.warning.setText(
                f"Trust it only if every group matches what {self.holder} reads out. Whoever runs this "
                "authority could then make certificates for anyone that smimehelper accepts: messages to them "
                "would be readable by that person, and their signatures shown as genuine.")
            self.compared.setText(f"I compared this fingerprint with {self.holder} by phone, and it matches")
        else:
            self.fingerprint_caption.setText(f"Fingerprint of {self.holder}'s certificate (SHA-256):")
            self.fingerprint.setText(self.certificate.fingerprint)
            self.warning.setText(
                f"Trust it only if every group matches what {self.holder} reads out (in their mail program, or "
                "in smimehelper under My certificates). A wrong certificate would let someone else read "
                f"messages meant for {self.holder} and sign as them.")
            self.compared.setText(f"I compared this fingerprint with {self.holder} by phone, and it matches")
        done = offer.already_trusted if by_authority else self.certificate.already_trusted
        ready = self.compared.isChecked() and not done and (known or not by_authority)
        self.trust_button.setEnabled(ready)
        self.details.set_text(self._technical())

    def _technical(self) -> str:
        info = describe(self.cert)
        lines = [f"Certificate of {self.holder}: {visible(info.subject)}",
                 f"  SHA-256 {info.fingerprint_sha256}",
                 f"  issued by {visible(info.issuer)}, serial {info.serial_number:x}"]
        if self.authority.authority is not None:
            top = describe(self.authority.authority)
            lines += [f"Authority: {visible(top.subject)}" + (" (a root)" if self.authority.top else " (issued by another)"),
                      f"  SHA-256 {top.fingerprint_sha256}",
                      f"  valid {top.not_before:%Y-%m-%d} to {top.not_after:%Y-%m-%d} (UTC)"]
        else:
            lines.append(f"Authority: {visible(self.authority.full_name)} (its certificate is not at hand)")
        return "\n".join(lines)

    def _fail(self, message: str) -> None:
        self.problem.setText(message)
        self.problem.show()

    # -- actions -------------------------------------------------------------------------------
    def choose_authority_file(self, path: Path | None = None) -> None:
        """Read the authority's certificate from a file the colleague sent (checked to be the one
        that issued their certificate)."""
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(self, f"The certificate of {self.authority.name}", "", CERT_FILES)
            if not chosen:
                return
            path = Path(chosen)
        try:
            self.authority = services.authority_from_file(self.ctx.stores(), self.cert, Path(path), self.chain, self.email)
        except UserError as exc:
            self._fail(str(exc))
            return
        self.problem.hide()
        self.compared.setChecked(False)  # a new fingerprint: compare again
        self.authority_choice.setChecked(True)
        self._update()

    def trust(self) -> None:
        if not self.trust_button.isEnabled():
            return
        stores = self.ctx.stores()
        try:
            if self.choice() == AUTHORITY:
                services.trust_authority(stores, self.authority)
            else:
                services.trust_certificate(stores, self.cert, self.chain)
        except UserError as exc:
            self._fail(str(exc))
            return
        self.trusted = self.choice()
        self.accept()

    @classmethod
    def offer(cls, parent: QWidget | None, ctx: GuiContext, cert: x509.Certificate,
              chain: Sequence[x509.Certificate] = (), email: str = "", prefer: str = AUTHORITY) -> bool:
        """Show the dialog; True when the authority or the certificate is now trusted."""
        dialog = cls(parent, ctx, cert, chain, email, prefer)
        dialog.exec()
        return dialog.trusted is not None


__all__ = ["AUTHORITY", "CERTIFICATE", "TrustDialog"]
