"""The outbox: every message is on disk before the first byte goes to a server.

States: queued -> sending -> (handed-over) -> sent, or back to queued (network trouble, 4xx:
retried with backoff) or failed (5xx: the server's words are kept). Each change is written
atomically before it takes effect, so after a crash (even kill -9) the next run knows:
"sending" means the server cannot have accepted it (queued again); "handed-over" means the
last byte was sent and only the server's answer is missing, so it is NOT sent again
automatically (it may well have been accepted) but kept for the user to decide.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..atomic import atomic_writer
from ..errors import UserError
from ..jsonstore import read_document, write_document

SCHEMA = 1
QUEUED, SENDING, HANDED_OVER, SENT, FAILED = "queued", "sending", "handed-over", "sent", "failed"
BACKOFF_SECONDS = (60, 300, 900, 1800, 3600)


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

    def enqueue(self, message: Path, *, account: str, envelope_from: str, recipients: tuple[str, ...],
                subject: str, append_to_sent: bool = True) -> OutboxItem:
        """Copy ``message`` (with CRLF line ends, as SMTP needs) into the outbox, queued."""
        if not recipients:
            raise OutboxError("A message needs at least one recipient.")
        item_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(4)
        target = self.folder / item_id
        target.mkdir(parents=True, mode=0o700)
        try:
            size = _copy_crlf(message, target / "message.eml")
        except OSError as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise OutboxError(f"Cannot put the message in the outbox: {exc.strerror}.") from None
        stamp = _now().isoformat()
        item = OutboxItem(item_id, QUEUED, account, envelope_from, tuple(recipients), subject, size, stamp, stamp,
                          append_to_sent=append_to_sent, history=((stamp, QUEUED, "put in the outbox"),))
        self._save(item)
        return item

    def items(self) -> list[OutboxItem]:
        if not self.folder.is_dir():
            return []
        found = []
        for state_file in sorted(self.folder.glob("*/state.json")):
            doc = read_document(state_file, "outbox-item", SCHEMA)
            if doc is not None:
                body = {k: v for k, v in doc.items() if k not in ("kind", "schema")}
                body["recipients"] = tuple(body["recipients"])
                body["history"] = tuple(tuple(h) for h in body.get("history", ()))
                found.append(OutboxItem(**body))
        return found

    def get(self, item_id: str) -> OutboxItem:
        matches = [i for i in self.items() if i.id == item_id or i.id.startswith(item_id)]
        if len(matches) != 1:
            raise OutboxError(f"{'No' if not matches else 'More than one'} message in the outbox matches {item_id}; 'smimehelper outbox list' shows them.")
        return matches[0]

    def remove(self, item_id: str) -> OutboxItem:
        item = self.get(item_id)
        if item.state == SENDING:
            raise OutboxError("That message is being sent right now.")
        shutil.rmtree(self.folder / item.id, ignore_errors=True)
        return item

    def recover(self) -> list[OutboxItem]:
        """After a crash: decide what interrupted sends mean (see the module docstring)."""
        changed = []
        for item in self.items():
            if item.state == SENDING:
                changed.append(self.mark(item, QUEUED, note="interrupted before the server accepted it; will be sent again"))
            elif item.state == HANDED_OVER:
                changed.append(self.mark(
                    item, FAILED,
                    note="interrupted after the whole message was handed to the server; it has probably "
                         "been accepted. Not sent again automatically: check with the recipient, then "
                         "'smimehelper outbox retry ID' if needed",
                ))
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
        write_document(self.folder / item.id / "state.json", "outbox-item", SCHEMA, body)


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
