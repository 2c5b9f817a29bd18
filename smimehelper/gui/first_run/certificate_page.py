"""Page 1 of the first-run assistant: your certificate file (.p12 or .pfx), or the demo certificates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from ... import services
from ..style import icon
from .widgets import COLOURS, CERTIFICATE_SUFFIXES, DropArea, StatusLine, _alive, _wrapped

if TYPE_CHECKING:
    from . import FirstRunWizard


class CertificatePage(QWizardPage):
    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.imported: services.IdentitySummary | None = None
        self.busy = False
        self.keyring_available = False
        self.setTitle("Your certificate")
        self.setSubTitle(
            "Import the certificate file (.p12 or .pfx) you received from your certificate "
            "provider. You do this only once."
        )
        self.setAcceptDrops(True)

        self.drop_area = DropArea()
        drop_icon = QLabel()
        drop_icon.setPixmap(icon("certificate").pixmap(QSize(40, 40)))
        drop_text = _wrapped("Drag your certificate file (.p12 or .pfx) onto this box, or choose it with Browse.")
        drop_text.setStyleSheet("border: none; background: transparent;")
        drop_icon.setStyleSheet("border: none; background: transparent;")
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("No file chosen yet")
        self.file_edit.setAcceptDrops(False)  # drops go to the page, not into the text
        self.file_edit.setToolTip("Your certificate file with its private key: it ends in .p12 or .pfx")
        self.file_edit.setAccessibleName("Certificate file")
        self.browse_button = QPushButton("&Browse...")
        self.browse_button.setToolTip("Choose your .p12 or .pfx file")
        self.browse_button.clicked.connect(self.choose_file)
        file_label = QLabel("Certificate &file:")
        file_label.setBuddy(self.file_edit)
        file_label.setStyleSheet("border: none; background: transparent;")
        drop_layout = QGridLayout(self.drop_area)
        drop_layout.setContentsMargins(14, 12, 14, 12)
        drop_layout.addWidget(drop_icon, 0, 0, 2, 1, Qt.AlignmentFlag.AlignTop)
        drop_layout.addWidget(drop_text, 0, 1, 1, 3)
        drop_layout.addWidget(file_label, 1, 1)
        drop_layout.addWidget(self.file_edit, 1, 2)
        drop_layout.addWidget(self.browse_button, 1, 3)
        drop_layout.setColumnStretch(2, 1)

        self.passphrase_edit = QLineEdit()
        self.passphrase_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase_edit.setAcceptDrops(False)
        self.passphrase_edit.setToolTip(
            "The passphrase (password) of the certificate file: you chose it when you saved the "
            "file, or your provider gave it to you"
        )
        self.passphrase_edit.setAccessibleName("Passphrase of the certificate file")
        self.passphrase_edit.returnPressed.connect(self._return_pressed)
        self.import_button = QPushButton(icon("lock"), "&Import")
        self.import_button.setToolTip("Read the certificate and store it, with its key encrypted, in smimehelper's folder")
        self.import_button.clicked.connect(self.start_import)
        passphrase_label = QLabel("&Passphrase:")
        passphrase_label.setBuddy(self.passphrase_edit)
        passphrase_row = QHBoxLayout()
        passphrase_row.addWidget(passphrase_label)
        passphrase_row.addWidget(self.passphrase_edit, 1)
        passphrase_row.addWidget(self.import_button)

        self.keyring_box = QCheckBox("&Keep the passphrase in the system keyring")
        self.keyring_note = _wrapped()
        self.keyring_note.setStyleSheet(f"color: {COLOURS['info']};")
        self.keyring_note.setIndent(24)

        self.status = StatusLine()

        self.details = QGroupBox("Your certificate")
        form = QFormLayout(self.details)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.name_value = self._value(form, "Who:", "The name in the certificate")
        self.email_value = self._value(form, "E-mail:", "Messages you sign show this address; colleagues encrypt to it")
        self.valid_value = self._value(form, "Valid until:", "After this day the certificate no longer signs; renew it in time")
        self.issuer_value = self._value(form, "Issued by:", "The certificate authority that vouches for you")
        self.details.setVisible(False)

        self.demo_button = QPushButton(icon("smimehelper"), "Try with &demo certificates")
        self.demo_button.setToolTip(
            "No certificate yet? Set smimehelper up with throwaway demo certificates (like "
            "'smimehelper demo') to try every part of the app. Not for real patients."
        )
        self.demo_button.clicked.connect(self.start_demo)
        demo_row = QHBoxLayout()
        demo_row.addWidget(_wrapped("No certificate yet? Try the app with throwaway demo certificates first."), 1)
        demo_row.addWidget(self.demo_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.drop_area)
        layout.addSpacing(6)
        layout.addLayout(passphrase_row)
        layout.addWidget(self.keyring_box)
        layout.addWidget(self.keyring_note)
        layout.addWidget(self.status)
        layout.addWidget(self.details)
        layout.addStretch(1)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout.addWidget(line)
        layout.addLayout(demo_row)
        self.setTabOrder(self.file_edit, self.browse_button)
        self.setTabOrder(self.browse_button, self.passphrase_edit)
        self.setTabOrder(self.passphrase_edit, self.import_button)
        self.setTabOrder(self.import_button, self.keyring_box)
        self.setTabOrder(self.keyring_box, self.demo_button)

    @staticmethod
    def _value(form: QFormLayout, label: str, tip: str) -> QLabel:
        value = _wrapped()
        value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        value.setToolTip(tip)
        name = QLabel(label)
        name.setToolTip(tip)
        form.addRow(name, value)
        return value

    # -- QWizardPage ----------------------------------------------------------------------------
    def initializePage(self) -> None:  # noqa: N802 (Qt naming)
        stores = self._wizard.ctx.stores()
        keyring = self.keyring_available = services.secure_keyring_available(stores)
        self.keyring_box.setEnabled(keyring)
        self.keyring_box.setChecked(keyring)
        if keyring:
            self.keyring_box.setToolTip("Untick to be asked for the passphrase each time instead")
            self.keyring_note.setText(
                "Your key is stored encrypted in smimehelper's folder. With this ticked, the secret "
                "that unlocks it is kept in your system keyring, so you are not asked for the "
                "passphrase again. Untick it to type the passphrase each time you send or open a message."
            )
        else:
            self.keyring_box.setToolTip("This computer has no secure system keyring")
            self.keyring_note.setText(
                "This computer has no secure system keyring, so the passphrase cannot be kept. "
                "Your key is stored encrypted with this passphrase, and smimehelper asks for it "
                "each time you send or open a message."
            )
        identities = stores.identities.list()
        if identities and self.imported is None:
            self._show_details(services.summarize_identity(identities[0]))
            self.status.ok("You have already imported this certificate. Press Next, or import another one.")
        self.file_edit.setFocus()

    def isComplete(self) -> bool:  # noqa: N802
        return self.imported is not None and not self.busy

    # -- choosing a file --------------------------------------------------------------------------
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose your certificate", "", "Certificate with key (*.p12 *.pfx);;All files (*)"
        )
        if path:
            self.set_file(Path(path))

    def set_file(self, path: Path) -> None:
        self.file_edit.setText(str(path))
        self.status.clear()
        self.passphrase_edit.setFocus()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self._dropped_file(event) is not None and not self.busy:
            event.acceptProposedAction()
            self.drop_area.set_highlight(True)
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self.drop_area.set_highlight(False)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self.drop_area.set_highlight(False)
        path = self._dropped_file(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.set_file(path)

    @staticmethod
    def _dropped_file(event: QDragEnterEvent | QDropEvent) -> Path | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        files = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        wanted = [p for p in files if p.suffix.lower() in CERTIFICATE_SUFFIXES]
        return (wanted or files or [None])[0]

    # -- importing ------------------------------------------------------------------------------------
    def _return_pressed(self) -> None:
        if not self.isComplete():
            self.start_import()

    def start_import(self) -> None:
        if self.busy:
            return
        text = self.file_edit.text().strip()
        if not text:
            self.status.error("Choose your certificate file first: drop it on the box above, or press Browse.")
            self.browse_button.setFocus()
            return
        path = Path(text).expanduser()
        passphrase = self.passphrase_edit.text().encode("utf-8")
        use_keyring = self.keyring_box.isChecked()
        ctx = self._wizard.ctx
        self._set_busy(True)
        self.status.busy(f"Reading {path.name}...")
        ctx.tasks.run(
            lambda _control: services.import_identity_file(ctx.stores(), path, passphrase, use_keyring=use_keyring),
            on_done=lambda stored: self._imported(stored, passphrase),
            on_error=self._failed,
        )

    def start_demo(self) -> None:
        if self.busy:
            return
        ctx = self._wizard.ctx
        self._set_busy(True)
        self.status.busy("Creating demo certificates and a synthetic x-ray...")
        ctx.tasks.run(lambda _control: services.use_demo_profile(ctx.stores()), on_done=self._demo_ready, on_error=self._failed)

    def _imported(self, stored: object, passphrase: bytes) -> None:
        if not _alive(self):
            return
        self._set_busy(False)
        self._wizard.remember_passphrase(stored, passphrase)  # type: ignore[arg-type]
        summary = services.summarize_identity(stored)  # type: ignore[arg-type]
        self._show_details(summary)
        if summary.protection == "keyring":
            how = "The passphrase is kept in the system keyring: you will not be asked for it again."
        else:
            how = "smimehelper will ask for this passphrase when you send or open a message."
        if summary.notice:
            self.status.warning(f"Imported, but: {summary.notice} {how}")
        else:
            self.status.ok(f"Imported. {how}")
        self._wizard.button(QWizard.WizardButton.NextButton).setFocus()

    def _demo_ready(self, profile: object) -> None:
        if not _alive(self):
            return
        assert isinstance(profile, services.DemoProfile)
        self._wizard.demo = profile
        self.file_edit.setText(str(profile.sender_p12))
        self.passphrase_edit.setText(profile.passphrase.decode())
        self._imported(profile.identity, profile.passphrase)
        self.status.ok(
            f"Demo certificates are ready (passphrase: {profile.passphrase.decode()}). They are for trying "
            f"out only, never for real patients. The demo files are in {profile.directory}."
        )

    def _failed(self, message: str) -> None:
        if not _alive(self):
            return
        self._set_busy(False)
        self.status.error(message)
        self.passphrase_edit.selectAll()
        self.passphrase_edit.setFocus()

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for widget in (self.import_button, self.browse_button, self.demo_button, self.file_edit, self.passphrase_edit, self.keyring_box):
            widget.setEnabled(not busy and (widget is not self.keyring_box or self.keyring_available))
        self.completeChanged.emit()

    def _show_details(self, summary: services.IdentitySummary) -> None:
        self.imported = summary
        self.name_value.setText(summary.name)
        self.email_value.setText(", ".join(summary.emails))
        until = f"{summary.valid_until:%d %B %Y}"
        self.valid_value.setText(f"{until}  ({summary.notice})" if summary.notice else until)
        self.valid_value.setStyleSheet(f"color: {COLOURS['warning']};" if summary.notice else "")
        self.issuer_value.setText(summary.issuer)
        self.details.setVisible(True)
        self.completeChanged.emit()


# -- page 2: the mail account ------------------------------------------------------------------


