""""Ask for their certificate": what will be sent, and why, before anything is sent.

The request is a short e-mail, signed and not encrypted (there is nothing to encrypt to yet):
it carries the user's certificate, and the colleague's signed reply brings theirs. The user
sees the recipient, the subject and the text (which they may change), and chooses to send it
through their account or to save it as a file for their own mail program.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ..widgets import plain_label, visible

SEND, SAVE = "send", "save"


class AskCertificateDialog(QDialog):
    """``choice`` is SEND, SAVE or None (cancelled); ``body()`` the text as the user left it."""

    def __init__(self, parent: QWidget | None, email: str, sender: str, subject: str, body: str, *, can_send: bool) -> None:
        super().__init__(parent)
        self.choice: str | None = None
        self.setWindowTitle(f"Ask {email} for their certificate")
        self.setMinimumWidth(560)
        why = plain_label(
            f"To encrypt messages to {email}, smimehelper needs their certificate. This sends them a short "
            "e-mail asking for a signed reply: every signed e-mail carries its sender's certificate, so when "
            "they answer, open their reply here and they are added to your contacts.\n\n"
            "The request is signed with your certificate, so it also gives them yours. It is not encrypted "
            "(there is nothing to encrypt to yet): keep patient details out of it.", selectable=False)
        form = QFormLayout()
        form.addRow("From:", plain_label(visible(sender)))
        form.addRow("To:", plain_label(visible(email)))
        form.addRow("Subject:", plain_label(visible(subject)))
        self.text = QPlainTextEdit(body)
        self.text.setAccessibleName("Text of the request")
        self.text.setToolTip("You may change the text; it is sent as you see it here.")
        text_label = QLabel("Te&xt:")
        text_label.setBuddy(self.text)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.send_button = self.buttons.addButton("&Send request", QDialogButtonBox.ButtonRole.AcceptRole) if can_send else None
        self.save_button = self.buttons.addButton("Save as &file...", QDialogButtonBox.ButtonRole.ActionRole)
        if self.send_button is not None:
            self.send_button.clicked.connect(lambda: self._choose(SEND))
            self.send_button.setDefault(True)
        self.save_button.clicked.connect(lambda: self._choose(SAVE))
        self.buttons.rejected.connect(self.reject)
        if not can_send:
            note = plain_label("No mail account is set up: save the request and send it from your mail program.", selectable=False)
        layout = QVBoxLayout(self)
        layout.addWidget(why)
        layout.addLayout(form)
        layout.addWidget(text_label)
        layout.addWidget(self.text, 1)
        if not can_send:
            layout.addWidget(note)
        layout.addWidget(self.buttons)

    def _choose(self, choice: str) -> None:
        self.choice = choice
        self.accept()

    def body(self) -> str:
        return self.text.toPlainText()
