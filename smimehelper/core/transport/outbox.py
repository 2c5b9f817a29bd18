"""The outbox: every message is on disk before the first byte goes to a server.

States: queued -> sending -> sent, or back to queued (network trouble, a 4xx answer, a lost
connection: sent again later with backoff) or failed (a 5xx answer: the server's words are
kept). Only a 2xx answer to the end of the message counts as sent (RFC 5321 4.5.4.1); "sent"
is written durably (fsync) the moment that answer arrives.

One message is only ever in one process's hands: whoever changes its state holds its lock
(``.locks/ID.lock``; filelock, as for the other locks of the app: flock on POSIX, LockFileEx on
Windows) from reading the state to writing the outcome. The operating system releases a lock
when its holder dies, even by kill -9, and flock locks belong to the open file, so two threads
of one process (the app's Outbox and Compose) exclude each other too. After a
crash the next run knows: "sending" with a free lock means the sender died before the server's
acceptance was recorded; it is queued again and sent with the same Message-ID. If the server
had accepted it in the instant before the crash (between its "250" and our record), the
recipient gets it twice: a rare duplicate, never a lost referral.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..atomic import atomic_writer
from ..errors import UserError
from ..jsonstore import read_document, write_document

SCHEMA = 1
QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
HANDED_OVER = "handed-over"  # written by earlier versions only; read as "answer lost", sent again
BACKOFF_SECONDS = (60, 300, 900, 1800, 3600)
LOCKS = ".locks"  # one lock file per message, beside the messages (never recreates a removed one)
_LEGACY_UNCLEAR = "probably been accepted"  # earlier versions failed such messages for good


class OutboxError(UserError):
    pass


@dataclass(frozen=True)
class OutboxItem:
    id: str
    state: str
    account: str
    envelope_from: str
    recipients: tuple[str, ...]
    subject: str
    size: int
    created: str
    updated: str
    attempts: int = 0
    last_reply: str = ""
    next_attempt: str | None = None
    append_to_sent: bool = True
    history: tuple[tuple[str, str, str], ...] = ()  # (time, state, note)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Outbox:
    def __init__(self, home: Path) -> None:
        self.folder = home / "outbox"

    def message_path(self, item_id: str) -> Path:
        return self.folder / item_id / "message.eml"

    def lock_path(self, item_id: str) -> Path:
        return self.folder / LOCKS / f"{item_id}.lock"

    def try_hold(self, item_id: str) -> Held | None:
        """The message's lock if no other sender holds it (None also when it was removed)."""
        return self.hold(item_id, 0)

    def hold(self, item_id: str, wait: float) -> Held | None:
        """The message's lock, waiting up to ``wait`` seconds for another sender to finish
        (None when it is still held then, or the message was removed)."""
        from filelock import FileLock, Timeout

        if not (self.folder / item_id).is_dir():
            return None
        (self.folder / LOCKS).mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = FileLock(str(self.lock_path(item_id)), mode=0o600)
        try:
            lock.acquire(timeout=max(0.0, wait), poll_interval=0.05)
        except Timeout:
            return None
        return Held(lock)

    def load(self, item_id: str) -> OutboxItem | None:
        """Exactly this message, read from disk now (None if it was removed). Read it again
        after taking its lock: another process may have sent it in the meantime."""
        return _item(read_document(self.folder / item_id / "state.json", "outbox-item", SCHEMA))

    def enqueue(self, message: Path, *, account: str, envelope_from: str, recipients: tuple[str, ...],
                subject: str, append_to_sent: bool = True) -> OutboxItem:
        """Copy ``message`` (with CRLF line ends, as SMTP needs) into the outbox, queued."""
        from .smtp import envelope_address_problem

        if not recipients:
            raise OutboxError("A message needs at least one recipient.")
        for address in (envelope_from, *recipients):
            problem = envelope_address_problem(address)
            if problem:
                raise OutboxError(f"The message cannot be sent to or from {address!r}: {problem}.")
        item_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(4)
        target = self.folder / item_id
        try:
            target.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise OutboxError(f"Cannot put the message in the outbox ({self.folder}): {exc.strerror}. Nothing was queued.") from None
        try:  # all or nothing: the message and its state, or no trace of either
            size = _copy_crlf(message, target / "message.eml")
            stamp = _now().isoformat()
            item = OutboxItem(item_id, QUEUED, account, envelope_from, tuple(recipients), subject, size, stamp, stamp,
                              append_to_sent=append_to_sent, history=((stamp, QUEUED, "put in the outbox"),))
            self._save(item)
        except BaseException as exc:
            shutil.rmtree(target, ignore_errors=True)
            if isinstance(exc, OSError):
                raise OutboxError(f"Cannot put the message in the outbox: {exc.strerror}. Nothing was queued.") from None
            raise
        return item

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A private folder in the data folder for a message being built before it is queued
        (``compose --send`` without -o): never in a shared temporary folder. What a crash left
        behind (older than a day) is removed by the next call."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for old in self.folder.glob(".staging-*"):
            with contextlib.suppress(OSError):
                if time.time() - old.stat().st_mtime > 86400:
                    shutil.rmtree(old, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix=".staging-", dir=self.folder) as folder:
            yield Path(folder)

    def items(self) -> list[OutboxItem]:
        if not self.folder.is_dir():
            return []
        found = []
        for state_file in sorted(self.folder.glob("*/state.json")):
            item = _item(read_document(state_file, "outbox-item", SCHEMA))
            if item is not None:
                found.append(item)
        return found

    def get(self, item_id: str) -> OutboxItem:
        matches = [i for i in self.items() if i.id == item_id or i.id.startswith(item_id)]
        if len(matches) != 1:
            raise OutboxError(f"{'No' if not matches else 'More than one'} message in the outbox matches {item_id}; 'smimehelper outbox list' shows them.")
        return matches[0]

    def remove(self, item_id: str) -> OutboxItem:
        item = self.get(item_id)
        held = self.try_hold(item.id)
        if held is None:
            raise OutboxError("That message is being sent right now (by another smimehelper window or command); "
                              "remove it when that is over.")
        with held:
            current = self.load(item.id) or item  # "sending" with a free lock: its sender is gone
            shutil.rmtree(self.folder / item.id, ignore_errors=True)
        return current

    def recover(self) -> list[OutboxItem]:
        """After a crash: messages left "sending" by a sender that is gone (their lock is free)
        are queued again (see the module docstring). Messages whose lock is held are in another
        sender's hands right now and are left alone."""
        changed = []
        locks = self.folder / LOCKS
        for stale in locks.glob("*.lock") if locks.is_dir() else ():
            if not (self.folder / stale.stem).is_dir():  # its message was removed: nobody needs it
                with contextlib.suppress(OSError):
                    stale.unlink()
        for item in self.items():
            if item.state not in (SENDING, HANDED_OVER) and not _abandoned(item):
                continue
            held = self.try_hold(item.id)
            if held is None:
                continue
            with held:
                current = self.load(item.id)
                if current is not None and (current.state in (SENDING, HANDED_OVER) or _abandoned(current)):
                    changed.append(self.mark(current, QUEUED, note=INTERRUPTED_NOTE))
        return changed

    def due(self, now: dt.datetime | None = None) -> list[OutboxItem]:
        now = now or _now()
        return [i for i in self.items() if i.state == QUEUED and (i.next_attempt is None or dt.datetime.fromisoformat(i.next_attempt) <= now)]

    def mark(self, item: OutboxItem, state: str, *, note: str = "", reply: str | None = None, retry: bool = False) -> OutboxItem:
        stamp = _now()
        attempts = item.attempts + (1 if state == SENDING else 0)
        next_attempt = None
        if retry:
            delay = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1] if attempts else BACKOFF_SECONDS[0]
            next_attempt = (stamp + dt.timedelta(seconds=delay)).isoformat()
        updated = replace(
            item, state=state, updated=stamp.isoformat(), attempts=attempts,
            last_reply=reply if reply is not None else item.last_reply, next_attempt=next_attempt,
            history=(*item.history, (stamp.isoformat(), state, note or reply or "")),
        )
        self._save(updated)
        return updated

    def _save(self, item: OutboxItem) -> None:
        body = asdict(item)
        body["recipients"] = list(item.recipients)
        body["history"] = [list(h) for h in item.history][-50:]
        if not (self.folder / item.id).is_dir():  # removed meanwhile: never bring back a state without its message
            raise OutboxError(f"The message {item.id} is no longer in the outbox.")
        write_document(self.folder / item.id / "state.json", "outbox-item", SCHEMA, body)


INTERRUPTED_NOTE = (
    "the sending was interrupted before the server's answer was recorded; it will be sent again "
    "(same Message-ID). If the server had accepted it just before, the recipient may get it twice"
)


def _abandoned(item: OutboxItem) -> bool:
    """Failed by an earlier version only because the server's answer was lost: sent again now."""
    return item.state == FAILED and bool(item.history) and _LEGACY_UNCLEAR in item.history[-1][2]


class Held:
    """A message's lock, held until ``release()`` or the end of the ``with`` block."""

    def __init__(self, lock: object) -> None:
        self._lock = lock

    def release(self) -> None:
        self._lock.release(force=True)  # type: ignore[attr-defined]

    def __enter__(self) -> Held:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _item(doc: dict | None) -> OutboxItem | None:  # type: ignore[type-arg]
    if doc is None:
        return None
    body = {k: v for k, v in doc.items() if k not in ("kind", "schema")}
    body["recipients"] = tuple(body["recipients"])
    body["history"] = tuple(tuple(h) for h in body.get("history", ()))
    return OutboxItem(**body)


def _copy_crlf(source: Path, target: Path) -> int:
    """Copy with bare LF (and bare CR) turned into CRLF; returns the size written."""
    size = 0
    carry = b""
    with open(source, "rb") as src, atomic_writer(target) as out:
        while chunk := src.read(1 << 20):
            data = carry + chunk
            carry = b"\r" if data.endswith(b"\r") else b""
            if carry:
                data = data[:-1]
            fixed = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
            out.write(fixed)
            size += len(fixed)
        if carry:
            out.write(b"\r\n")
            size += 2
    return size
