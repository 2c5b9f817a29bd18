"""Drain the outbox: one connection per account for all its due messages, each message's
state written before and after, copies appended to Sent when an IMAP server is set up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import imap
from .accounts import Account, AccountStore
from .outbox import FAILED, HANDED_OVER, QUEUED, SENDING, SENT, Outbox, OutboxItem
from .smtp import DeliveryError, SmtpSession

Password = Callable[[Account], bytes | None]


@dataclass(frozen=True)
class Delivered:
    item: OutboxItem
    message: str  # what happened, in words
    sent_copy: str | None = None  # the IMAP folder the copy went to


def drain(
    outbox: Outbox,
    accounts: AccountStore,
    password_for: Password,
    *,
    ids: Sequence[str] | None = None,
    now: dt.datetime | None = None,
    session_factory: Callable[[Account, bytes | None], SmtpSession] = SmtpSession,
) -> list[Delivered]:
    """Send the due messages (or exactly ``ids``, even if not due or failed)."""
    outbox.recover()
    if ids:
        chosen = [outbox.get(i) for i in ids]
        chosen = [i if i.state != FAILED else outbox.mark(i, QUEUED, note="retry asked by the user") for i in chosen]
        chosen = [i for i in chosen if i.state == QUEUED]
    else:
        chosen = outbox.due(now)
    results: list[Delivered] = []
    by_account: dict[str, list[OutboxItem]] = {}
    for item in chosen:
        by_account.setdefault(item.account, []).append(item)
    for email, items in by_account.items():
        account = accounts.get(email)
        password = password_for(account)
        session = session_factory(account, password)
        try:
            for item in items:
                results.append(_send_one(outbox, session, account, password, item))
        finally:
            session.close()
    return results


def _send_one(outbox: Outbox, session: SmtpSession, account: Account, password: bytes | None, item: OutboxItem) -> Delivered:
    current = outbox.mark(item, SENDING, note=f"connecting to {account.smtp_host}")
    marker = {"item": current}

    def handed_over() -> None:
        marker["item"] = outbox.mark(marker["item"], HANDED_OVER, note="all bytes handed to the server")

    try:
        reply = session.send(outbox.message_path(item.id), item.envelope_from, item.recipients, on_handed_over=handed_over)
    except DeliveryError as exc:
        if marker["item"].state == HANDED_OVER and not exc.reply:
            # Every byte reached the server and then the answer was lost: it has probably been
            # accepted. Sending again could deliver it twice, so the user decides.
            updated = outbox.mark(
                marker["item"], FAILED, reply=exc.reply or str(exc),
                note="the connection broke after the whole message was handed to the server; it has "
                     "probably been accepted. Not sent again automatically: check with the recipient, "
                     "then 'smimehelper outbox retry ID' if needed",
            )
            return Delivered(updated, f"Unclear: {exc} The server has probably accepted it; not sent again automatically.")
        if exc.transient:
            updated = outbox.mark(marker["item"], QUEUED, note=str(exc), reply=exc.reply or str(exc), retry=True)
            return Delivered(updated, f"Not sent yet: {exc}")
        updated = outbox.mark(marker["item"], FAILED, note=str(exc), reply=exc.reply or str(exc))
        return Delivered(updated, f"Failed: {exc}")
    sent = outbox.mark(marker["item"], SENT, reply=reply, note="accepted by the server")
    folder = None
    if item.append_to_sent and account.imap_host and not account.saves_sent_copy:
        try:
            folder = imap.append(account, password, "\\Sent", outbox.message_path(item.id))
        except imap.ImapError as exc:
            return Delivered(sent, f"Sent ({reply}), but the copy for your Sent folder failed: {exc}")
    return Delivered(sent, f"Sent ({reply})" + (f"; copy saved in {folder}" if folder else ""), folder)
