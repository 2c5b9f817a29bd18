"""Delivery: put composed messages into the outbox and send them through the user's account."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.transport.accounts import Account, Credential
from ..core.transport.delivery import BUSY_WAIT_SECONDS, Delivered, drain
from ..core.transport.outbox import OutboxItem
from ..core.transport.oauth.tokens import SignIn
from ..core.transport.smtp import MessageTooLarge

if TYPE_CHECKING:
    from ..core.disclosure.model import TransferRecord
    from .compose import ComposeOutcome
    from .stores import Stores


AskPassword = Callable[[Account], bytes | None]

def password_source(stores: Stores, ask: AskPassword | None, sign_in: SignIn | None = None) -> Callable[[Account], Credential]:
    """How to log in, once per account: the password from the keyring, else asked (or read from
    a file); for an account that signs in with its provider, its token source (``sign_in`` opens
    the browser when there is no sign-in; without it: "sign in again"), never a password."""
    cache: dict[str, Credential] = {}

    def get(account: Account) -> Credential:
        if account.email not in cache:
            cache[account.email] = stores.accounts.credential(account, ask, sign_in)
        return cache[account.email]

    return get


def _envelope(message: Path) -> tuple[str, tuple[str, ...], str]:
    """Sender, recipients (To + Cc) and subject from a message's headers, refused when the
    header block could hide or add a recipient (core/mime/envelope.py)."""
    from ..core.mime.envelope import read_envelope

    envelope = read_envelope(message)
    return envelope.sender, envelope.recipients, envelope.subject


def queue_message(stores: Stores, message: Path, account_email: str | None, *, recipients: tuple[str, ...] | None = None,
                  append_to_sent: bool = True, record: TransferRecord | None = None) -> OutboxItem:
    """Into the outbox, after its disclosure-log entry (``record``, else what compose remembered
    under the message's Message-ID) is durably written."""
    sender, header_recipients, subject = _envelope(message)
    if account_email:
        account = stores.accounts.get(account_email)
    else:  # the account of the From address, else the only (first) one
        account = stores.accounts.get(sender if _has_account(stores, sender) else None)
    size = message.stat().st_size
    if size > account.size_limit:
        raise MessageTooLarge(
            f"The message is {size / 1e6:.1f} MB, more than the {account.size_limit / 1e6:.0f} MB your "
            f"mail account ({account.email}) accepts. Send fewer or smaller files per message."
        )
    from . import disclosure

    # Recorded (fsynced) before it enters the outbox: without its log entry a message never leaves.
    if record is None:
        record = disclosure.record_for_message(stores, message, method="smime", via=account.email,
                                               recipients=recipients or header_recipients)
    else:
        record = replace(record, via=f"{record.via} through {account.email}")
    entry_id = disclosure.record_transfer(stores, record)
    try:
        item = stores.outbox.enqueue(message, account=account.email, envelope_from=sender,
                                     recipients=recipients or header_recipients, subject=subject, append_to_sent=append_to_sent)
    except BaseException as exc:
        disclosure.record_outcome(stores, entry_id, "failed", note=f"not put in the outbox: {exc}")
        raise
    disclosure.record_queued(stores, entry_id, item)
    return item


def _has_account(stores: Stores, email: str) -> bool:
    return any(a.email == email for a in stores.accounts.list())


def send_messages(stores: Stores, items: Sequence[OutboxItem], ask: AskPassword | None,
                  sign_in: SignIn | None = None, *, busy_wait: float = BUSY_WAIT_SECONDS, retry_failed: bool = True) -> list[Delivered]:
    """Send ``items`` now (see core/transport/delivery.drain: each under its lock; one that another
    process holds is waited for up to ``busy_wait`` seconds; failed ones are tried again only
    with ``retry_failed``)."""
    from . import disclosure

    disclosure.reconcile_outbox(stores)
    disclosure.ensure_recorded(stores, items)  # nothing leaves without its disclosure-log entry
    results = drain(stores.outbox, stores.accounts, password_source(stores, ask, sign_in), ids=[i.id for i in items],
                    busy_wait=busy_wait, retry_failed=retry_failed)
    disclosure.record_deliveries(stores, results)
    return results


def queue_composed(stores: Stores, outcome: ComposeOutcome, account_email: str | None) -> list[OutboxItem]:
    """The main message (To + Cc) and each Bcc copy (to that address only) into the outbox."""
    # The recipients the user gave (To + Cc), not what the file's headers say now.
    items = [queue_message(stores, outcome.result.path, account_email, recipients=outcome.result.envelope_recipients or None)]
    for part in outcome.parts[1:]:  # a split study: every part is a message of its own
        items.append(queue_message(stores, part.path, account_email, recipients=part.envelope_recipients or None))
    for copy in outcome.bcc_copies:
        items.append(queue_message(stores, copy.result.path, account_email, recipients=(copy.address,), append_to_sent=False))
    return items

