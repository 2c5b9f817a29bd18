"""The certificate request dialog of My certificates: your address, your name, the key type."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from .widgets import plain_label


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


__all__ = ["CertificateRequestDialog", "RequestDetails"]
