"""The disclosure log as the app uses it: record every transfer before it leaves, then its outcome.

The hook-in API (one call per transfer path)::

    from smimehelper.services import disclosure
    from smimehelper.core.disclosure.model import Party, TransferRecord
    from smimehelper.core.disclosure.files import describe_files

    record = TransferRecord(sender=Party(name, address), recipients=(Party(n, a), ...),
                            method="password-package", via="package.html",
                            files=describe_files(paths), message_id=msgid, purpose=purpose)
    entry_id = disclosure.record_transfer(stores, record)      # durable (fsync) or raises
    ... send ...                                               # only after it returned
    disclosure.record_outcome(stores, entry_id, "sent", reply)  # or "failed", "queued", ...

or, when the outcome is simply "it worked" or "it raised"::

    with disclosure.transfer(stores, record) as t:
        send()
        t.done("handed-over", "opened in Thunderbird")   # an exception records "failed"

``record_transfer`` raises :class:`LogWriteError` (a UserError with a plain sentence) when the
log cannot be written (full disk, read-only folder): the caller must then NOT send. Methods:
"smime" (via = the account), "password-package", "handoff" (via = the mail program),
"split-parts" (part = "2 of 5"). Outcomes: queued, sent, failed, handed-over, unknown.

The S/MIME path is hooked here already: ``compose_message`` calls :func:`remember_composed`
(files, SHA-256, DICOM fields, purpose, keyed by Message-ID, and a daily checkpoint with the
identity it just unlocked); ``queue_message`` records the transfer before the message enters the
outbox; ``send_messages`` records each server reply. An outcome lost in a crash is taken from
the outbox's own durable state the next time (:func:`reconcile_outbox`).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.disclosure.model import (
    DEFAULT_PURPOSE, FAILED, QUEUED, SENT, DisclosedFile, Party, TransferRecord, outcome_data,
)
from ..core.disclosure.store import DisclosureLog, LogWriteError
from ..core.errors import UserError
from ..core.jsonstore import read_document, write_document
from . import AskPassphrase, now

if TYPE_CHECKING:
    from ..core.identity import Identity
    from ..core.transport.delivery import Delivered
    from ..core.transport.outbox import OutboxItem
    from .compose import ComposeOutcome
    from .stores import Stores

__all__ = ["LogWriteError", "TransferRecord", "Party", "record_transfer", "record_outcome", "transfer",
           "remember_composed", "record_for_message", "record_deliveries", "reconcile_outbox", "log_for"]


def log_for(stores: Stores) -> DisclosureLog:
    return DisclosureLog(stores.home / "disclosure", secrets=stores.identities.secrets)


# -- the hook-in API ----------------------------------------------------------------------------

def record_transfer(stores: Stores, record: TransferRecord, *, ask_passphrase: AskPassphrase | None = None) -> str:
    """Append the transfer durably and return its entry id (raises LogWriteError: do not send).

    Then, never failing the transfer: a daily checkpoint when one is due and the key opens
    (the keyring, or ``ask_passphrase``), and forwarding to the practice's log server.
    """
    entry = log_for(stores).append("transfer", record.to_data(), now())
    _after_append(stores, ask_passphrase=ask_passphrase)
    return entry.id


def record_outcome(stores: Stores, entry_id: str, outcome: str, reply: str = "", *, note: str = "") -> str:
    """Append the outcome of the transfer ``entry_id``; returns the outcome entry's id."""
    entry = log_for(stores).append("outcome", outcome_data(entry_id, outcome, reply, note), now())
    _after_append(stores)
    return entry.id


@dataclass
class _Transfer:
    stores: Stores
    id: str
    finished: bool = False

    def done(self, outcome: str, reply: str = "", *, note: str = "") -> None:
        record_outcome(self.stores, self.id, outcome, reply, note=note)
        self.finished = True


@contextlib.contextmanager
def transfer(stores: Stores, record: TransferRecord, *, ask_passphrase: AskPassphrase | None = None) -> Iterator[_Transfer]:
    """Record ``record``; the body sends; an exception in it records "failed" (and is re-raised)."""
    handle = _Transfer(stores, record_transfer(stores, record, ask_passphrase=ask_passphrase))
    try:
        yield handle
    except BaseException as exc:
        if not handle.finished:
            reason = str(exc) if isinstance(exc, UserError) else f"stopped ({type(exc).__name__})"
            with contextlib.suppress(UserError):
                record_outcome(stores, handle.id, FAILED, note=reason)
        raise


def _after_append(stores: Stores, *, ask_passphrase: AskPassphrase | None = None, identity: Identity | None = None) -> None:
    from ..core.disclosure.checkpoint import checkpoint_due, make_checkpoint

    log = log_for(stores)
    with contextlib.suppress(UserError, OSError):
        if checkpoint_due(log, now()):
            key = identity or _signing_identity(stores, ask_passphrase)
            if key is not None:
                make_checkpoint(log, key, now())
    forward_quietly(stores)


def _signing_identity(stores: Stores, ask_passphrase: AskPassphrase | None) -> Identity | None:
    """The default identity, unlocked without asking (keyring) or with ``ask_passphrase``."""
    try:
        stored = stores.identities.for_signing(None, now())
    except UserError:
        return None
    if stored.protection != "keyring" and ask_passphrase is None:
        return None
    return stores.identities.locked(stored, ask_passphrase).unlocked()


def forward_quietly(stores: Stores, timeout: float = 3.0) -> None:
    """Send what waits for the log server, if one is set up; a failure only leaves it waiting."""
    from ..core.disclosure.forward import Forwarder

    with contextlib.suppress(UserError, OSError):
        forwarder = Forwarder(log_for(stores))
        if forwarder.config() is not None:
            forwarder.send_pending(timeout=timeout)


# -- the S/MIME path: compose -> outbox -> server --------------------------------------------

@dataclass(frozen=True)
class _Composed:
    sender: Party
    recipients: tuple[Party, ...]
    files: tuple[DisclosedFile, ...]
    purpose: str
    patients: tuple[str, ...] = field(default=())


def _composed_path(stores: Stores, message_id: str) -> Path:
    return log_for(stores).folder / "composed" / f"{hashlib.sha256(message_id.strip().encode()).hexdigest()[:32]}.json"


def remember_composed(stores: Stores, outcome: ComposeOutcome, attachments: Sequence[Path], *, purpose: str = DEFAULT_PURPOSE,
                      patients: Sequence[str] = (), identity: Identity | None = None,
                      to: Sequence[str] = (), cc: Sequence[str] = (),
                      files: Sequence[DisclosedFile] | None = None, part: str = "") -> None:
    """Keep what a composed message discloses (files, hashes, DICOM fields, purpose) under its
    Message-ID, for the transfer entry written when it is queued or handed off; with the
    ``identity`` just unlocked for signing, sign a checkpoint if one is due.

    ``files`` (already described) replaces ``attachments`` when the files that travel are not the
    user's (de-identified or compressed copies, the members of a study archive); ``part`` is
    "k of N" for one message of a split study (logged as method "split-parts")."""
    from ..core.disclosure.files import describe_files

    files = tuple(files) if files is not None else describe_files(attachments)
    main = [(outcome.result, tuple(_parties((*to, *cc))))]
    main += [(copy.result, tuple(_parties((copy.address,)))) for copy in outcome.bcc_copies]
    sender = next(iter(_parties((outcome.sender,))), Party("", outcome.sender))
    for result, recipients in main:
        body = _Composed(sender, recipients, files, purpose or DEFAULT_PURPOSE, tuple(patients))
        write_document(_composed_path(stores, result.message_id), "disclosure-composed", 1, {
            "sender": body.sender.to_data(), "recipients": [r.to_data() for r in recipients],
            "files": [f.to_data() for f in files], "purpose": body.purpose, "patients": list(body.patients),
            **({"part": part} if part else {}),
        })
    if identity is not None and getattr(identity, "key", None) is not None:
        from ..core.disclosure.checkpoint import checkpoint_due, make_checkpoint

        log = log_for(stores)
        with contextlib.suppress(UserError, OSError):
            if log.exists() and checkpoint_due(log, now()):
                make_checkpoint(log, identity, now())


def _parties(texts: Sequence[str]) -> list[Party]:
    from email.utils import getaddresses

    return [Party(name, address.lower()) for name, address in getaddresses(list(texts)) if address]


def record_for_message(stores: Stores, message: Path, *, method: str, via: str,
                       recipients: Sequence[str] | None = None, purpose: str | None = None) -> TransferRecord:
    """The transfer record of a finished .eml: what compose remembered under its Message-ID, or
    (a message made elsewhere) its headers, with the message file itself as what was disclosed."""
    headers = _headers(message)
    message_id = headers.get("message-id", "")
    doc = read_document(_composed_path(stores, message_id), "disclosure-composed", 1) if message_id else None
    header_parties = _parties([headers.get("to", ""), headers.get("cc", "")])
    if doc is not None:
        sender = Party.from_data(doc["sender"])
        known = {p.address: p for p in (*header_parties, *(Party.from_data(r) for r in doc["recipients"]))}
        files = tuple(DisclosedFile.from_data(f) for f in doc["files"])
        chosen_purpose = purpose or doc.get("purpose") or DEFAULT_PURPOSE
        patients = tuple(doc.get("patients") or ())
        part = str(doc.get("part") or "")
        if part and method == "smime":  # one message of a study sent in several
            method = "split-parts"
    else:
        from ..core.disclosure.files import describe_file

        sender = next(iter(_parties([headers.get("from", "")])), Party("", ""))
        known = {p.address: p for p in header_parties}
        files = (describe_file(message, content_type="message/rfc822 (contents not known to smimehelper)"),)
        chosen_purpose, patients, part = purpose or DEFAULT_PURPOSE, (), ""
    addresses = [a.lower() for a in recipients] if recipients else list(known)
    parties = tuple(known.get(a, Party("", a)) for a in addresses)
    return TransferRecord(sender, parties, method, via, files, message_id, chosen_purpose, part=part, patients=patients)


def _headers(message: Path) -> dict[str, str]:
    from ..core.mime.parser import parse_entity

    try:
        with open(message, "rb") as handle:
            size = handle.seek(0, 2)
            entity = parse_entity(handle, 0, size)
    except OSError as exc:
        raise UserError(f"The message {message} cannot be read: {exc.strerror}.") from None
    return {name: ", ".join(str(v) for v in entity.headers.get_all(name, [])) for name in ("from", "to", "cc", "message-id")}


def _pending_path(stores: Stores) -> Path:
    return log_for(stores).folder / "outbox-pending.json"


def _pending(stores: Stores) -> dict[str, Any]:
    doc = read_document(_pending_path(stores), "disclosure-outbox", 1) or {}
    return dict(doc.get("items", {}))


def _save_pending(stores: Stores, items: dict[str, Any]) -> None:
    write_document(_pending_path(stores), "disclosure-outbox", 1, {"items": items})


def record_queued(stores: Stores, entry_id: str, item: OutboxItem) -> None:
    """The transfer ``entry_id`` is in the outbox as ``item``: remember the pair, log "queued"."""
    with log_for(stores).locked():
        pending = _pending(stores)
        pending[item.id] = {"entry": entry_id, "state": QUEUED, "reply": ""}
        _save_pending(stores, pending)
    record_outcome(stores, entry_id, QUEUED, note=f"in the outbox as {item.id}")


def ensure_recorded(stores: Stores, items: Sequence[OutboxItem]) -> None:
    """Before anything leaves: every outbox item must have its transfer entry (older items too)."""
    pending = _pending(stores)
    for item in items:
        if item.id not in pending:
            record = record_for_message(stores, stores.outbox.message_path(item.id), method="smime",
                                        via=item.account, recipients=item.recipients)
            record_queued(stores, record_transfer(stores, record), item)


def record_deliveries(stores: Stores, results: Sequence[Delivered]) -> None:
    """Log each item's new state (sent with the server's reply, failed, waiting to retry)."""
    for delivered in results:
        # The outbox state is durable; an outcome that cannot be logged now (full disk after the
        # server accepted) is logged by reconcile_outbox next time instead of failing a sent message.
        with contextlib.suppress(UserError):
            _record_item_state(stores, delivered.item)


def reconcile_outbox(stores: Stores) -> None:
    """Log outbox states that changed without being logged (a crash right after the server's reply)."""
    pending = _pending(stores)
    if not pending:
        return
    by_id = {item.id: item for item in stores.outbox.items()}
    for item_id in list(pending):
        item = by_id.get(item_id)
        if item is not None:
            _record_item_state(stores, item)


def _record_item_state(stores: Stores, item: OutboxItem) -> None:
    mapping = {"sent": SENT, "failed": FAILED, "queued": QUEUED}
    outcome = mapping.get(item.state)
    pending = _pending(stores)
    known = pending.get(item.id)
    if outcome is None or known is None:
        return
    reply = item.last_reply or ""
    if known.get("state") == outcome and known.get("reply") == reply:
        return
    note = item.history[-1][2] if item.history else ""
    record_outcome(stores, known["entry"], outcome, reply, note=note if note != reply else "")
    with log_for(stores).locked():
        pending = _pending(stores)
        if outcome == SENT:
            pending.pop(item.id, None)
        else:
            pending[item.id] = {"entry": known["entry"], "state": outcome, "reply": reply}
        _save_pending(stores, pending)
