"""Before anything is asked or built: can the message reach every recipient, and will it fit?

Compose used to ask for the passphrase, then name the first recipient without a usable
certificate; a study too large for the mail account was refused after encrypting 590 MB.
:func:`check_before_sending` answers both questions from what is known at once (the contacts'
certificates checked without the network, the files' sizes, the account's limit), naming every
problem together with the way out, so the user fixes them all in one go.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.display import human_size
from ..core.errors import AddressError
from ..core.mime.headers import parse_address
from . import now as clock

if TYPE_CHECKING:
    from .stores import Stores

BASE64_GROWTH = 1.37
"""Base64 makes 3 bytes into 4 plus line ends: each layer grows the data by about 37%."""
MESSAGE_OVERHEAD = 8 * 1024
"""Headers, MIME structure, signature and certificates: a few KB."""

NO_CERTIFICATE, UNTRUSTED, EXPIRED, REVOKED, NOT_YET_VALID, UNUSABLE, NOT_CHECKED, NOT_AN_ADDRESS = (
    "no_certificate", "untrusted", "expired", "revoked", "not_yet_valid", "unusable", "not_checked", "not_an_address",
)
_KINDS = {
    "untrusted_issuer": UNTRUSTED, "expired": EXPIRED, "revoked": REVOKED, "not_yet_valid": NOT_YET_VALID,
    "revocation_unknown": NOT_CHECKED, "wrong_usage": UNUSABLE, "no_email": UNUSABLE, "weak_key": UNUSABLE,
}
_ORDER = (REVOKED, EXPIRED, NOT_YET_VALID, UNTRUSTED, NOT_CHECKED, UNUSABLE)


def estimate_message_size(attachment_bytes: int, body_bytes: int, *, encrypt: bool) -> int:
    """About how large the finished message is: the files are base64-encoded in the signed
    message and the encrypted message is base64-encoded again."""
    growth = BASE64_GROWTH * (BASE64_GROWTH if encrypt else 1.0)
    return int((attachment_bytes + body_bytes) * growth) + MESSAGE_OVERHEAD


@dataclass(frozen=True)
class RecipientProblem:
    """Why the message cannot be encrypted to one address, and what to do about it."""

    address: str
    kind: str
    reason: str
    way_out: str

    def sentence(self) -> str:
        return f"{self.reason} {self.way_out}".strip()


@dataclass(frozen=True)
class SizeProblem:
    estimated: int
    limit: int
    largest: tuple[str, int] | None  # a single file too large for any message
    where: str  # "your mail account x@y" or "usual for mail servers"

    def sentence(self) -> str:
        head = (f"The message would be about {human_size(self.estimated)}, but {self.where} accepts at most "
                f"{human_size(self.limit)}.")
        if self.largest is not None:
            name, size = self.largest
            head += f" {name} alone ({human_size(size)}) is too large for one message."
        return (head + " Send fewer or smaller files (only the images your colleague needs), spread them over "
                "several messages, or save the message (or a password package) as a file and hand it over "
                "another way, for example on a USB stick or through a file-sharing service.")


@dataclass(frozen=True)
class Preflight:
    recipients: tuple[RecipientProblem, ...] = ()
    size: SizeProblem | None = None

    @property
    def ok(self) -> bool:
        return not self.recipients and self.size is None

    def sentences(self) -> list[str]:
        return [*(p.sentence() for p in self.recipients), *([self.size.sentence()] if self.size else [])]


def check_before_sending(
    stores: Stores,
    addresses: Sequence[str],
    *,
    encrypt: bool = True,
    attachments: Sequence[Path] = (),
    body_bytes: int = 0,
    limit: int | None = None,
    limit_source: str = "your mail account",
    now: dt.datetime | None = None,
    sizes: Mapping[Path, int] | None = None,
) -> Preflight:
    """Every problem that would stop this message, found without the passphrase and without
    building anything: each recipient without a usable certificate (when encrypting), and the
    size against ``limit`` (None: no limit applies, e.g. saving to a file).

    A folder counts as the DICOM files in it (what travels as its study archive); ``sizes``
    gives the bytes an attachment will travel as when known better than its size on disk (a
    study made smaller by lossless compression, as measured)."""
    problems: list[RecipientProblem] = []
    if encrypt:
        problems = _recipient_problems(stores, addresses, now or clock())
    size = None
    if limit is not None:
        known = sizes or {}
        travelling = [(p.name, known[p] if p in known else _size(p)) for p in map(Path, attachments)]
        estimated = estimate_message_size(sum(s for _n, s in travelling), body_bytes, encrypt=encrypt)
        if estimated > limit:
            too_big = [(n, s) for n, s in travelling if estimate_message_size(s, 0, encrypt=encrypt) > limit]
            largest = max(too_big, key=lambda t: t[1]) if too_big else None
            size = SizeProblem(estimated, limit, largest, limit_source)
    return Preflight(tuple(problems), size)


def _size(path: Path) -> int:
    try:
        if path.is_dir():
            from ..core.dicom.fileset import dicom_files_in

            return sum(f.stat().st_size for f in dicom_files_in(path))
        return path.stat().st_size
    except OSError:
        return 0  # compose names an unreadable file itself


def _recipient_problems(stores: Stores, addresses: Sequence[str], now: dt.datetime) -> list[RecipientProblem]:
    from .stores import list_contacts

    own = {e for i in stores.identities.list() for e in i.emails}
    strict = stores.strict_revocation()
    problems: list[RecipientProblem] = []
    seen: set[str] = set()
    for text in addresses:
        try:
            email = parse_address(text).addr_spec.lower()
        except AddressError:
            problems.append(RecipientProblem(text, NOT_AN_ADDRESS, f'"{text}" is not an e-mail address.',
                                             "Write it like bob@example.org."))
            continue
        if email in own or email in seen:
            continue
        seen.add(email)
        rows = list_contacts(stores, now, fetch=False, address=email)
        if not rows:
            problems.append(RecipientProblem(
                email, NO_CERTIFICATE, f"There is no certificate for {email}.",
                f"Ask {email} for it (they only need to send you a signed e-mail), or send them a password "
                "package, which they open in their web browser.",
            ))
            continue
        if any(r.status.usable(strict) for r in rows):
            continue
        worst = min(rows, key=lambda r: _ORDER.index(_KINDS.get(r.status.status.value, UNUSABLE)))
        kind = _KINDS.get(worst.status.status.value, UNUSABLE)
        problems.append(RecipientProblem(email, kind, worst.status.reason or f"The certificate of {email} cannot be used.",
                                         _way_out(kind, email)))
    return problems


def _way_out(kind: str, email: str) -> str:
    return {
        UNTRUSTED: ("If the certificate is really theirs, trust their authority (or only their certificate) after "
                    "comparing its fingerprint with them by phone: Trust... beside their address, or in Contacts."),
        EXPIRED: f"Ask {email} for their new certificate, or send them a password package.",
        REVOKED: f"Do not use it: ask {email} for their new certificate, or send them a password package.",
        NOT_YET_VALID: "Check the date of this computer, or wait until the certificate is valid.",
        NOT_CHECKED: ("Connect to the internet so that it can be checked, or switch strict revocation "
                      "checking off."),
    }.get(kind, f"Ask {email} for an e-mail (S/MIME) certificate, or send them a password package.")


__all__ = [
    "Preflight", "RecipientProblem", "SizeProblem", "check_before_sending", "estimate_message_size",
    "NO_CERTIFICATE", "UNTRUSTED", "EXPIRED", "REVOKED", "NOT_YET_VALID", "UNUSABLE", "NOT_CHECKED", "NOT_AN_ADDRESS",
]
