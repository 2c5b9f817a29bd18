"""Recipient fields: a line to type addresses in (completed from the contacts) and one chip per
address saying whether the message can be encrypted to it.

The certificate checks themselves happen elsewhere (``services.list_contacts`` on the task
runner); the pieces only turn their results into words, colours and buttons:

* :class:`~.recipient_state.StatusBook` - what is known about each contact address.
* :class:`~.recipient_state.RecipientState` - one chip's state: a short label, the reason, a colour.
* :class:`~.recipient_chip.RecipientChip` - the chip, with the way out when it cannot encrypt.
* :class:`RecipientField` (here) - the line edit, its completer and the chips below it.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import QCompleter, QLineEdit, QVBoxLayout, QWidget

from ..core.errors import AddressError
from ..core.mime.headers import parse_address
from .flow_layout import FlowLayout
from .recipient_chip import RecipientChip
from .recipient_state import (  # noqa: F401 (re-exported: the names Compose and the tests know)
    CAN_ENCRYPT, CHECKING, EXPIRED, INVALID, NO_CERTIFICATE, NOT_CHECKED, NOT_YET_VALID, REVOKED, UNTRUSTED, UNUSABLE,
    YOU, RecipientState, StatusBook, _state,
)


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


class RecipientField(QWidget):
    """A line for addresses (comma separated, completed from the contacts) and their chips."""

    changed = Signal()
    """The addresses typed changed."""
    ask_certificate = Signal(str)
    """The user wants to ask this address for its certificate."""
    send_package = Signal(str)
    """The user wants to send this address (which has no certificate) a password package."""
    trust_requested = Signal(str)
    """The user wants to trust the authority (or only the certificate) of this address."""

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
