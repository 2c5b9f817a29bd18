"""One recipient of Compose as a chip: the address, whether the message can be encrypted to it
(in words and colour, the reason as tooltip), and the way out when it cannot: ask for their
certificate, trust their authority, or send them a password package."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton, QWidget

from .recipient_state import NO_CERTIFICATE, UNTRUSTED, RecipientState

if TYPE_CHECKING:
    from .recipients import RecipientField


class RecipientChip(QFrame):
    """One recipient: the address, its state in words and colour, the reason as tooltip."""

    def __init__(self, entry: str, email: str | None, state: RecipientState, field_: RecipientField) -> None:
        super().__init__()
        self.entry, self.email, self.state = entry, email, state
        self.setObjectName("recipientChip")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            f"#recipientChip {{ border: 1px solid {state.colour}; border-radius: 10px; }}"
            f" #recipientChip QLabel#chipState {{ color: {state.colour}; font-weight: bold; }}"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 1, 2, 1)
        layout.setSpacing(4)
        self.address_label = QLabel(email or entry)
        self.state_label = QLabel(state.label)
        self.state_label.setObjectName("chipState")
        for label in (self.address_label, self.state_label):
            label.setTextFormat(Qt.TextFormat.PlainText)
            layout.addWidget(label)
        self.ask_button: QPushButton | None = None
        if state.may_ask and email:
            text = "Ask for their certificate" if state.kind == NO_CERTIFICATE else "Ask for a new certificate"
            self.ask_button = QPushButton(text)
            self.ask_button.setToolTip(
                f"Send {email} a signed (not encrypted) message asking them to reply with a signed "
                "e-mail: that gives you their certificate."
            )
            self.ask_button.setAccessibleName(f"{text}: {email}")
            self.ask_button.clicked.connect(lambda: field_.ask_certificate.emit(email))
            layout.addWidget(self.ask_button)
        self.trust_button: QPushButton | None = None
        if state.kind == UNTRUSTED and email:
            self.trust_button = QPushButton("Trust...")
            self.trust_button.setToolTip(
                f"Check the certificate of {email} with them by phone (its fingerprint), then trust their "
                "authority, or only their certificate."
            )
            self.trust_button.setAccessibleName(f"Trust: {email}")
            self.trust_button.clicked.connect(lambda: field_.trust_requested.emit(email))
            layout.addWidget(self.trust_button)
        self.package_button: QPushButton | None = None
        if state.kind == NO_CERTIFICATE and email:
            self.package_button = QPushButton("Send as password package")
            self.package_button.setToolTip(
                f"Send {email} the message and files in a password package: they open it in their web "
                "browser with a passphrase you tell them by phone or text message."
            )
            self.package_button.setAccessibleName(f"Send as password package: {email}")
            self.package_button.clicked.connect(lambda: field_.send_package.emit(email))
            layout.addWidget(self.package_button)
        self.remove_button = QToolButton()
        self.remove_button.setText("\u00d7")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.remove_button.setToolTip(f"Remove {email or entry}")
        self.remove_button.setAccessibleName(f"Remove {email or entry}")
        self.remove_button.clicked.connect(lambda: field_.remove(entry))
        layout.addWidget(self.remove_button)
        self.setToolTip(state.reason)
        self.address_label.setToolTip(state.reason)
        self.state_label.setToolTip(state.reason)
        self.setAccessibleName(f"{email or entry}: {state.label}")
        self.setAccessibleDescription(state.reason)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def focusable(self) -> list[QWidget]:
        return [w for w in (self.ask_button, self.trust_button, self.package_button, self.remove_button) if w is not None]
