"""Recipient fields: a line to type addresses in (completed from the contacts) and one chip per
address saying whether the message can be encrypted to it.

The certificate checks themselves happen elsewhere (``services.list_contacts`` on the task
runner); this module only turns their results into words, colours and buttons:

* :class:`StatusBook` - what is known about each contact address (built from list_contacts rows).
* :class:`RecipientState` - one chip's state: a short label, the reason (its tooltip), a colour.
* :class:`RecipientChip` - the chip; with "Ask for their certificate" when there is none.
* :class:`RecipientField` - the line edit, its completer and the chips below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QPoint, QRect, QSize, QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QCompleter,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.cert_status import CertStatus, Status
from ..core.errors import AddressError
from ..core.mime.headers import parse_address
from .style import STATUS_COLOURS

GREEN = STATUS_COLOURS["valid"]
AMBER = STATUS_COLOURS["revocation_unknown"]
RED = STATUS_COLOURS["missing"]
GREY = "#5f6368"

# Kinds of chip, in the order a problem is reported when one address has several certificates.
CAN_ENCRYPT = "can_encrypt"
YOU = "you"
NO_CERTIFICATE = "no_certificate"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
REVOKED = "revoked"
UNTRUSTED = "untrusted"
NOT_CHECKED = "not_checked"
UNUSABLE = "unusable"
INVALID = "invalid"
CHECKING = "checking"

_KIND_OF_STATUS = {
    Status.EXPIRED: EXPIRED,
    Status.NOT_YET_VALID: NOT_YET_VALID,
    Status.REVOKED: REVOKED,
    Status.UNTRUSTED_ISSUER: UNTRUSTED,
    Status.REVOCATION_UNKNOWN: NOT_CHECKED,  # only reached with strict revocation checking
    Status.WRONG_USAGE: UNUSABLE,
    Status.NO_EMAIL: UNUSABLE,
    Status.WEAK_KEY: UNUSABLE,
}
_PROBLEM_ORDER = (REVOKED, EXPIRED, NOT_YET_VALID, UNTRUSTED, NOT_CHECKED, UNUSABLE)

_LABELS = {
    CAN_ENCRYPT: ("can encrypt", GREEN),
    YOU: ("you - can encrypt", GREEN),
    NO_CERTIFICATE: ("no certificate", RED),
    EXPIRED: ("certificate expired", RED),
    NOT_YET_VALID: ("certificate not valid yet", AMBER),
    REVOKED: ("certificate revoked", RED),
    UNTRUSTED: ("certificate not trusted", RED),
    NOT_CHECKED: ("revocation not checked", AMBER),
    UNUSABLE: ("certificate unusable", RED),
    INVALID: ("not an e-mail address", RED),
    CHECKING: ("checking...", GREY),
}


@dataclass(frozen=True)
class RecipientState:
    kind: str
    label: str
    reason: str
    colour: str

    @property
    def can_encrypt(self) -> bool:
        return self.kind in (CAN_ENCRYPT, YOU)

    @property
    def may_ask(self) -> bool:
        """Whether asking the person for a (new) certificate helps."""
        return self.kind in (NO_CERTIFICATE, EXPIRED, REVOKED)


def _state(kind: str, reason: str) -> RecipientState:
    label, colour = _LABELS[kind]
    return RecipientState(kind, label, reason, colour)


@dataclass
class StatusBook:
    """The status of every certificate in the contacts, by address (computed off the GUI thread)."""

    statuses: dict[str, list[CertStatus]] = field(default_factory=dict)
    own: frozenset[str] = frozenset()
    strict: bool = False

    @classmethod
    def from_rows(cls, rows: Iterable[object], own: Iterable[str], strict: bool) -> StatusBook:
        """From ``services.list_contacts`` rows (``.entry.email``, ``.status``)."""
        book = cls(own=frozenset(e.lower() for e in own), strict=strict)
        for row in rows:
            book.statuses.setdefault(row.entry.email.lower(), []).append(row.status)  # type: ignore[attr-defined]
        return book

    def addresses(self) -> list[str]:
        return sorted(self.statuses)

    def update(self, email: str, statuses: Sequence[CertStatus]) -> None:
        """Replace what is known about one address (for example after an online revocation check)."""
        self.statuses[email.lower()] = list(statuses)

    def state_for(self, email: str) -> RecipientState:
        email = email.lower()
        if email in self.own:
            return _state(YOU, "This is your own address: the message is encrypted to your own certificate.")
        found = self.statuses.get(email, [])
        if not found:
            return _state(
                NO_CERTIFICATE,
                f"There is no certificate for {email} in your contacts, so the message cannot be "
                f"encrypted to them. Ask them for it: they only need to send you a signed e-mail.",
            )
        usable = [s for s in found if s.usable(self.strict)]
        if usable:
            notes = [s.reason for s in usable if s.reason]
            return _state(
                CAN_ENCRYPT,
                notes[0] if notes else f"The certificate of {email} is valid: the message will be encrypted to it.",
            )
        problems = sorted(found, key=lambda s: _PROBLEM_ORDER.index(_KIND_OF_STATUS.get(s.status, UNUSABLE)))
        worst = problems[0]
        return _state(_KIND_OF_STATUS.get(worst.status, UNUSABLE), worst.reason or f"The certificate of {email} cannot be used.")


def split_addresses(text: str) -> list[str]:
    """The addresses typed into one line, split at commas and semicolons outside quotes and <>."""
    parts: list[str] = []
    current: list[str] = []
    quoted = angled = False
    for char in text:
        if char == '"' and not angled:
            quoted = not quoted
        elif char == "<" and not quoted:
            angled = True
        elif char == ">" and not quoted:
            angled = False
        if char in ",;" and not quoted and not angled:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def email_of(entry: str) -> str | None:
    """The plain address (lower case) of "Dr Bob <bob@example.org>" or "bob@example.org"."""
    try:
        return parse_address(entry).addr_spec.lower()
    except AddressError:
        return None


class FlowLayout(QLayout):
    """Lays its widgets out left to right and wraps them to the next line, like words."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt naming)
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802
        return self.minimumSize()

    def minimumSize(self) -> QSize:  # noqa: N802
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _arrange(self, rect: QRect, *, move: bool) -> int:
        x, y, line_height = rect.x(), rect.y(), 0
        for item in self._items:
            hint = item.sizeHint()
            if x + hint.width() > rect.right() + 1 and line_height > 0:
                x, y = rect.x(), y + line_height + self._spacing
                line_height = 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._spacing
            line_height = max(line_height, hint.height())
        return y + line_height - rect.y()


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
        return [w for w in (self.ask_button, self.package_button, self.remove_button) if w is not None]


class RecipientField(QWidget):
    """A line for addresses (comma separated, completed from the contacts) and their chips."""

    changed = Signal()
    """The addresses typed changed."""
    ask_certificate = Signal(str)
    """The user wants to ask this address for its certificate."""
    send_package = Signal(str)
    """The user wants to send this address (which has no certificate) a password package."""

    def __init__(self, accessible_name: str, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.setAccessibleName(accessible_name)
        self.edit.setClearButtonEnabled(True)
        self.edit.setAcceptDrops(False)  # dropped files go to the attachments, not into the line
        self.model = QStringListModel([])
        self.completer = QCompleter(self.model, self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.setWidget(self.edit)
        self.completer.activated[str].connect(self.insert_completion)
        self.edit.textEdited.connect(self._complete)
        self.edit.textChanged.connect(self._text_changed)
        self.edit.editingFinished.connect(lambda: self._render(final=True))
        self.chip_area = QWidget()
        self.chip_area.setAccessibleName(f"{accessible_name}: recipients and whether they can receive encrypted mail")
        self.flow = FlowLayout(self.chip_area)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(self.edit)
        layout.addWidget(self.chip_area)
        self.chip_area.hide()
        self._book: StatusBook | None = None
        self._chips: list[RecipientChip] = []
        self._signature: tuple[tuple[str, str, str], ...] = ()

    # -- reading -----------------------------------------------------------------------------
    def entries(self) -> list[str]:
        """Every address as typed (for example "Dr Bob <bob@example.org>")."""
        return split_addresses(self.edit.text())

    def emails(self) -> list[str]:
        """The valid addresses, lower case, without display names."""
        return [e for e in (email_of(x) for x in self.entries()) if e]

    def invalid_entries(self) -> list[str]:
        return [x for x in self.entries() if email_of(x) is None]

    def chips(self) -> list[RecipientChip]:
        return list(self._chips)

    def chip(self, email: str) -> RecipientChip | None:
        return next((c for c in self._chips if c.email == email.lower()), None)

    def state_for(self, email: str) -> RecipientState:
        if self._book is None:
            return _state(CHECKING, "Checking the certificates in your contacts...")
        return self._book.state_for(email)

    def focusable(self) -> list[QWidget]:
        return [self.edit, *(w for c in self._chips for w in c.focusable())]

    # -- changing ----------------------------------------------------------------------------
    def set_completions(self, addresses: Sequence[str]) -> None:
        self.model.setStringList(sorted(set(addresses)))

    def set_book(self, book: StatusBook | None) -> None:
        self._book = book
        self._render(final=not self.edit.hasFocus())

    def set_entries(self, entries: Sequence[str]) -> None:
        self.edit.setText(", ".join(entries))
        self._render(final=True)

    def remove(self, entry: str) -> None:
        remaining = [e for e in self.entries() if e != entry]
        self.set_entries(remaining)

    def clear(self) -> None:
        self.set_entries([])

    def insert_completion(self, address: str) -> None:
        """Replace the address being typed with the chosen contact and start the next one."""
        done = self.entries()
        text = self.edit.text()
        if done and not text.rstrip().endswith((",", ";")):
            done = done[:-1]
        self.edit.setText(", ".join([*done, address]) + ", ")
        self._render(final=True)

    def _complete(self, text: str) -> None:
        tail = text
        for separator in (",", ";"):
            tail = tail.rsplit(separator, 1)[-1]
        prefix = tail.strip()
        if not prefix:
            self.completer.popup().hide()
            return
        self.completer.setCompletionPrefix(prefix)
        if self.completer.completionCount() > 0:
            rect = self.edit.rect()
            self.completer.complete(rect)
        else:
            self.completer.popup().hide()

    def _text_changed(self, _text: str) -> None:
        self._render(final=not self.edit.hasFocus())
        self.changed.emit()

    def _render(self, *, final: bool) -> None:
        entries = self.entries()
        typing_last = not final and not self.edit.text().rstrip().endswith((",", ";"))
        shown: list[tuple[str, str | None, RecipientState]] = []
        for index, entry in enumerate(entries):
            email = email_of(entry)
            if email is None:
                if typing_last and index == len(entries) - 1:
                    continue  # still being typed
                shown.append((entry, None, _state(INVALID, f'"{entry}" is not an e-mail address. Write it like bob@example.org.')))
            else:
                shown.append((entry, email, self.state_for(email)))
        signature = tuple((entry, state.kind, state.reason) for entry, _email, state in shown)
        if signature == self._signature:
            return
        self._signature = signature
        had_focus = any(w.hasFocus() for c in self._chips for w in c.focusable())
        for chip in self._chips:
            self.flow.removeWidget(chip)
            chip.hide()
            chip.deleteLater()
        self._chips = [RecipientChip(entry, email, state, self) for entry, email, state in shown]
        for chip in self._chips:
            self.flow.addWidget(chip)
        self.chip_area.setVisible(bool(self._chips))
        previous: QWidget = self.edit
        for widget in (w for c in self._chips for w in c.focusable()):
            QWidget.setTabOrder(previous, widget)
            previous = widget
        if had_focus:
            self.edit.setFocus()
        self.chip_area.updateGeometry()
