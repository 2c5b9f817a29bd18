"""What Compose knows about each recipient address: one state per chip, from the status of every
certificate in the contacts (computed off the GUI thread by ``services.list_contacts``).

Status codes are compared as text ("untrusted_issuer"), so this module does not load the
certificate validator at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .style import STATUS_COLOURS

if TYPE_CHECKING:
    from ..core.cert_status import CertStatus

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
    "expired": EXPIRED,
    "not_yet_valid": NOT_YET_VALID,
    "revoked": REVOKED,
    "untrusted_issuer": UNTRUSTED,
    "revocation_unknown": NOT_CHECKED,  # only reached with strict revocation checking
    "wrong_usage": UNUSABLE,
    "no_email": UNUSABLE,
    "weak_key": UNUSABLE,
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
        problems = sorted(found, key=lambda s: _PROBLEM_ORDER.index(_KIND_OF_STATUS.get(s.status.value, UNUSABLE)))
        worst = problems[0]
        return _state(_KIND_OF_STATUS.get(worst.status.value, UNUSABLE), worst.reason or f"The certificate of {email} cannot be used.")
