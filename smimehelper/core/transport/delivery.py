"""Drain the outbox: one connection per account for all its due messages, each message in
exactly one process's hands, its state written before and after, copies appended to Sent when
an IMAP server is set up.

Every sender goes through ``drain`` (the CLI's ``send``, ``compose --send`` and ``outbox retry``,
the app's Outbox and Compose), so the rules hold everywhere:

- A message is sent only by the holder of its lock (outbox.py), and its state is read
  again after the lock is taken: a message another process sent in the meantime is never sent
  again. Messages held by another process are done last, waiting up to ``busy_wait`` seconds
  for it, and otherwise reported as being sent elsewhere.
- Only a 2xx answer to the end of the data means sent; "sent" is written durably (fsync) before
  anything else happens. A connection lost before that answer queues the message again with
  backoff (same Message-ID): a rare duplicate, never a lost referral.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import UserError
from . import imap
from .accounts import Account, AccountStore
from .outbox import FAILED, QUEUED, SENDING, SENT, Outbox, OutboxItem
from .smtp import AnswerLost, DeliveryError, SmtpSession

Password = Callable[[Account], bytes | None]
BUSY_WAIT_SECONDS = 60.0

# Test seam for the crash tests: the process kills itself (SIGKILL, no clean-up at all) at the
# named point: "accepted" = after the server's 2xx, before it is recorded; "recorded" = after.
KILL_AT_ENV = "SMIMEHELPER_TEST_KILL_AT"


@dataclass(frozen=True)
class Delivered:
    item: OutboxItem
    message: str  # what happened, in words
    sent_copy: str | None = None  # the IMAP folder the copy went to
    busy: bool = False  # in another process's hands: not tried here


def drain(
    outbox: Outbox,
    accounts: AccountStore,
    password_for: Password,
    *,
    ids: Sequence[str] | None = None,
    now: dt.datetime | None = None,
    session_factory: Callable[[Account, bytes | None], SmtpSession] = SmtpSession,
    busy_wait: float = BUSY_WAIT_SECONDS,
    retry_failed: bool = True,
) -> list[Delivered]:
    """Send the due messages, or exactly ``ids`` now even if not due (and, with
    ``retry_failed``, even if failed)."""
    outbox.recover()
    explicit = bool(ids)
    requeue = explicit and retry_failed
    chosen = [outbox.get(i) for i in ids] if ids else outbox.due(now)
    results: list[Delivered] = []
    by_account: dict[str, list[OutboxItem]] = {}
    for item in dict((i.id, i) for i in chosen).values():
        by_account.setdefault(item.account, []).append(item)
    for email, items in by_account.items():
        try:
            account = accounts.get(email)
            password = password_for(account)
        except UserError as exc:  # no such account any more, no password at hand: nothing tried
            results += [Delivered(outbox.load(i.id) or i, f"Not sent: {exc} It waits in the outbox.") for i in items]
            continue
        session = session_factory(account, password)
        try:
            busy: list[OutboxItem] = []
            for item in items:
                held = outbox.try_hold(item.id)
                if held is None:
                    busy.append(item)
                    continue
                with held:
                    result = _attempt(outbox, session, account, password, item.id, explicit, requeue, now)
                if result is not None:
                    results.append(result)
            for item in busy:  # in another process's hands: wait for it, then look again
                held = outbox.hold(item.id, busy_wait)
                if held is None:
                    current = outbox.load(item.id)
                    if current is not None:
                        results.append(Delivered(current, "Being sent by another smimehelper window or command right now; "
                                                          "'smimehelper outbox list' shows the outcome.", busy=True))
                    continue
                with held:
                    result = _attempt(outbox, session, account, password, item.id, explicit, requeue, now)
                if result is not None:
                    results.append(result)
        except BaseException:
            session.abort()
            raise
        session.close()
    return results


def _attempt(outbox: Outbox, session: SmtpSession, account: Account, password: bytes | None, item_id: str,
             explicit: bool, requeue: bool, now: dt.datetime | None) -> Delivered | None:
    """With the message's lock held: look at its state now, and send it if it still waits."""
    item = outbox.load(item_id)
    if item is None:
        return None  # removed meanwhile
    if requeue and item.state == FAILED:
        item = outbox.mark(item, QUEUED, note="retry asked by the user")
    if item.state == SENT:
        return Delivered(item, f"Already sent ({item.last_reply}); not sent again.") if explicit else None
    if item.state != QUEUED:
        return None
    if not explicit and not _is_due(item, now):
        return None  # another process tried it meanwhile and it waits for its next try
    return _send_one(outbox, session, account, password, item)


def _is_due(item: OutboxItem, now: dt.datetime | None) -> bool:
    moment = now or dt.datetime.now(dt.timezone.utc)
    return item.next_attempt is None or dt.datetime.fromisoformat(item.next_attempt) <= moment


def _kill_point(name: str) -> None:
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _send_one(outbox: Outbox, session: SmtpSession, account: Account, password: bytes | None, item: OutboxItem) -> Delivered:
    current = outbox.mark(item, SENDING, note=f"sending via {account.smtp_host}")
    try:
        reply = session.send(outbox.message_path(item.id), item.envelope_from, item.recipients)
    except DeliveryError as exc:
        if exc.transient:  # AnswerLost too: a lost answer is sent again, like an MTA does
            updated = outbox.mark(current, QUEUED, note=str(exc), reply=exc.reply or str(exc), retry=True)
            return Delivered(updated, f"{'Not confirmed' if isinstance(exc, AnswerLost) else 'Not sent yet'}: {exc}")
        updated = outbox.mark(current, FAILED, note=str(exc), reply=exc.reply or str(exc))
        return Delivered(updated, f"Failed: {exc}")
    except BaseException:  # Ctrl-C, a bug: the server has not confirmed, so it waits again
        outbox.mark(current, QUEUED, note="interrupted before the server confirmed it; it will be sent again "
                                          "(if the server had taken it just then, the recipient may get it twice)")
        raise
    _kill_point("accepted")
    sent = outbox.mark(current, SENT, reply=reply, note="accepted by the server")  # durable before anything else
    _kill_point("recorded")
    folder = None
    if item.append_to_sent and account.imap_host and not account.saves_sent_copy:
        try:
            folder = imap.append(account, password, "\\Sent", outbox.message_path(item.id))
        except imap.ImapError as exc:
            return Delivered(sent, f"Sent ({reply}), but the copy for your Sent folder failed: {exc}")
    return Delivered(sent, f"Sent ({reply})" + (f"; copy saved in {folder}" if folder else ""), folder)
