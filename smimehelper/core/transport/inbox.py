"""The secure inbox: find the S/MIME messages of a mailbox and open one straight from the server.

Finding them never downloads a message: ``UID SEARCH HEADER Content-Type ...`` asks the server
to look at the header (every IMAP4rev1 server must support it, RFC 3501 6.4.4); if it refuses,
the message structures (BODYSTRUCTURE, a few hundred bytes each) are read instead. Only the
headers of the matches are fetched (at most 64 KB each), to show sender, subject and date.

Opening one (:func:`open_from_mailbox`) fetches it in chunks into a private temporary file
that the streaming reader reads while it grows (:class:`~smimehelper.core.growing_file.GrowingFile`):
memory stays bounded, decrypted content only ever goes to the reader's private spool files, and
a fetch that fails or is cancelled fails the opening, never yields a verdict on partial bytes.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from ..errors import InputFileError, UserError
from ..growing_file import GrowingFile
from ..identity import Identity
from ..reader import OpenedMessage, open_source
from .imap import ImapError
from .imap_fetch import Cancelled, ConnectionLost, Located, Mailbox, MessageRef, Progress
from .imap_syntax import (
    ImapSyntaxError,
    Value,
    classify_bodystructure,
    classify_headers,
    decode_folder,
    fetch_items,
    internaldate,
    number,
    parse,
    parse_headers,
)

SEARCH = ('OR OR HEADER Content-Type "pkcs7-mime" HEADER Content-Type "multipart/signed" '
          'HEADER Content-Type "smime.p7m"')
HEADER_FIELDS = "FROM TO SUBJECT DATE MESSAGE-ID CONTENT-TYPE CONTENT-DISPOSITION"
MAX_HEADER_BYTES = 64 * 1024
BATCH = 500
DEFAULT_LIMIT = 200


@dataclass(frozen=True)
class SecureMessage:
    """One S/MIME message as listed (nothing of its content)."""

    folder: str
    uid: int
    uidvalidity: int
    kind: str  # imap_syntax.ENCRYPTED | SIGNED | UNKNOWN
    sender: str
    subject: str
    date: str | None  # the Date header, ISO 8601
    received: dt.datetime | None  # when the server got it (INTERNALDATE)
    size: int
    seen: bool

    @property
    def ref(self) -> MessageRef:
        return MessageRef(self.folder, self.uid, self.uidvalidity)


@dataclass(frozen=True)
class Folder:
    name: str
    selectable: bool


def list_folders(mailbox: Mailbox) -> list[Folder]:
    """Every folder of the mailbox (``LIST "" "*"``), names decoded from modified UTF-7."""
    values = parse(mailbox.command("LIST", '""', '"*"', uid=False))
    if len(values) % 3:
        raise ImapSyntaxError("a LIST reply of the wrong shape")
    folders = []
    for flags, _delimiter, raw in zip(values[::3], values[1::3], values[2::3]):
        if not isinstance(flags, list) or not isinstance(raw, bytes):
            raise ImapSyntaxError("a LIST reply of the wrong shape")
        marks = {f.lower() for f in flags if isinstance(f, bytes)}
        name = "INBOX" if raw.upper() == b"INBOX" else decode_folder(raw)
        folders.append(Folder(name, b"\\noselect" not in marks and b"\\nonexistent" not in marks))
    folders.sort(key=lambda f: (f.name != "INBOX", f.name.lower()))
    return folders


def _uid_set(uids: Sequence[int]) -> str:
    return ",".join(str(u) for u in uids)


def _search(mailbox: Mailbox) -> list[int] | None:
    """UIDs whose Content-Type may be S/MIME, by the server's header search; None if refused."""
    try:
        data = mailbox.command("SEARCH", SEARCH)
    except ConnectionLost:
        raise
    except ImapError:  # NO/BAD: this server does not search headers
        return None
    return sorted({int(x) for line in data if isinstance(line, bytes) for x in line.split() if x.isdigit()})


def _bodystructure_kinds(mailbox: Mailbox) -> dict[int, str]:
    """Fallback: the structure of every message, in batches (never the messages themselves)."""
    found: dict[int, str] = {}
    for first in range(1, mailbox.exists + 1, BATCH):
        last = min(first + BATCH - 1, mailbox.exists)
        data = mailbox.command("FETCH", f"{first}:{last}", "(UID BODYSTRUCTURE)", uid=False)
        for record in fetch_items(data):
            kind = classify_bodystructure(record.get("BODYSTRUCTURE"))
            if kind is not None and "UID" in record:
                found[number(record["UID"], "UID")] = kind
    return found


def describe(mailbox: Mailbox, folder: str, uids: Sequence[int], *, limit: int = DEFAULT_LIMIT,
             kinds: dict[int, str] | None = None) -> list[SecureMessage]:
    """The newest ``limit`` of ``uids`` that really are S/MIME, newest first, from their headers."""
    validity = mailbox.select(folder)
    arrived: list[tuple[dt.datetime, int]] = []
    epoch = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    for start in range(0, len(uids), BATCH):
        batch = uids[start:start + BATCH]
        for record in fetch_items(mailbox.command("FETCH", _uid_set(batch), "(UID INTERNALDATE)")):
            if "UID" in record:
                arrived.append((internaldate(record.get("INTERNALDATE")) or epoch, number(record["UID"], "UID")))
    arrived.sort(reverse=True)
    newest = [uid for _, uid in arrived[:limit]]
    messages: list[SecureMessage] = []
    for start in range(0, len(newest), BATCH):
        batch = newest[start:start + BATCH]
        items = f"(UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})]<0.{MAX_HEADER_BYTES}>)"
        for record in fetch_items(mailbox.command("FETCH", _uid_set(batch), items, max_literal=MAX_HEADER_BYTES)):
            message = _message(folder, validity, record, kinds)
            if message is not None:
                messages.append(message)
    messages.sort(key=lambda m: (m.received or epoch, m.uid), reverse=True)
    return messages


def _message(folder: str, validity: int, record: dict[str, Value], kinds: dict[int, str] | None) -> SecureMessage | None:
    if "UID" not in record:
        return None
    uid = number(record["UID"], "UID")
    header = next((v for k, v in record.items() if k.startswith("BODY[HEADER.FIELDS")), None)
    headers = parse_headers(header if isinstance(header, bytes) else b"")
    kind = kinds.get(uid) if kinds is not None else classify_headers(headers)
    if kind is None:
        return None  # e.g. an OpenPGP multipart/signed the search also found
    flags = record.get("FLAGS")
    seen = isinstance(flags, list) and any(isinstance(f, bytes) and f.lower() == b"\\seen" for f in flags)
    return SecureMessage(
        folder=folder, uid=uid, uidvalidity=validity, kind=kind,
        sender=_header(headers, "From"), subject=_header(headers, "Subject"), date=_date(headers),
        received=internaldate(record.get("INTERNALDATE")), size=number(record.get("RFC822.SIZE"), "RFC822.SIZE"),
        seen=seen,
    )


def _header(headers, name: str) -> str:  # type: ignore[no-untyped-def]
    try:
        value = headers.get(name)
    except (ValueError, TypeError, IndexError, LookupError):
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _date(headers) -> str | None:  # type: ignore[no-untyped-def]
    try:
        value = headers.get("Date")
        when = getattr(value, "datetime", None) if value is not None else None
    except (ValueError, TypeError, IndexError, LookupError):
        return None
    return when.isoformat() if when is not None else None


def find_secure_messages(mailbox: Mailbox, folder: str, *, limit: int = DEFAULT_LIMIT,
                         method: str = "auto") -> tuple[list[SecureMessage], str]:
    """The S/MIME messages of ``folder``, newest first, and how they were found: "search" (the
    server searched the headers) or "bodystructure" (``method="bodystructure"``, or the server
    refused the search and ``method="auto"``)."""
    mailbox.select(folder)
    if method != "bodystructure":
        uids = _search(mailbox)
        if uids is not None:
            return describe(mailbox, folder, uids, limit=limit), "search"
        if method == "search":
            raise ImapError("The mail server refused to search the message headers.")
    mailbox.select(folder)  # again: a refused search may have cost the connection
    kinds = _bodystructure_kinds(mailbox)
    return describe(mailbox, folder, sorted(kinds), limit=limit, kinds=kinds), "bodystructure"


# -- opening one ------------------------------------------------------------------------------

SPOOL_PREFIX = "smimehelper-inbox-"


class PrivateSpool:
    """A private (0700) temporary folder for one fetched message, removed by :meth:`close`.

    Named after the process, so a folder left behind by a process that was killed (kill -9,
    power loss) is removed the next time a message is fetched.
    """

    def __init__(self) -> None:
        sweep_stale_spools()
        self.path = Path(tempfile.mkdtemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-"))

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> PrivateSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sweep_stale_spools(root: Path | None = None) -> int:
    """Remove the spool folders of this user's processes that no longer run."""
    root = Path(root or tempfile.gettempdir())
    removed = 0
    try:
        entries = list(root.glob(f"{SPOOL_PREFIX}*-*"))
    except OSError:
        return 0
    for entry in entries:
        try:
            pid = int(entry.name[len(SPOOL_PREFIX):].split("-", 1)[0])
            if entry.stat().st_uid != os.getuid() or pid == os.getpid():
                continue
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        except (ValueError, OSError):
            continue
    return removed


@dataclass(frozen=True)
class FetchedMessage:
    located: Located
    opened: OpenedMessage
    path: Path  # the fetched message (0600, inside the caller's PrivateSpool)


def open_from_mailbox(
    mailbox: Mailbox,
    ref: MessageRef,
    spool: PrivateSpool,
    *,
    identities: Sequence[Identity] = (),
    anchors: Sequence[x509.Certificate] = (),
    save_dir: Path | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> FetchedMessage:
    """Fetch ``ref`` and open it while it arrives; the verdict is only given on all of it."""
    located = mailbox.locate(ref)
    free = shutil.disk_usage(spool.path).free
    if free < 2 * located.size + 16 * 1024 * 1024:
        raise InputFileError(
            f"The message is {located.size / 1e6:.0f} MB and there is only {free / 1e6:.0f} MB of free space "
            f"for temporary files ({spool.path.parent}). Free some space and try again."
        )
    growing = GrowingFile(spool.path, located.size)
    stop = threading.Event()
    failure: list[BaseException] = []

    def stopped() -> bool:
        return stop.is_set() or (cancelled is not None and cancelled())

    def fetch() -> None:
        try:
            mailbox.fetch_into(located, growing.append, progress=progress, cancelled=stopped)
        except BaseException as exc:  # handed to the reader, which raises it
            failure.append(exc)
            growing.fail(exc)
        else:
            growing.finish()

    worker = threading.Thread(target=fetch, name="smimehelper-imap-fetch", daemon=True)
    worker.start()
    try:
        opened = open_source(growing, identities=identities, anchors=anchors, save_dir=save_dir, now=now)
    except BaseException as exc:
        # The reader found the message damaged after all announced bytes arrived: let the fetch
        # finish its last check, because a server that lied about the size explains the damage.
        finish = isinstance(exc, UserError) and growing.written >= located.size and not failure
        if not finish:
            stop.set()
            mailbox.abort()
        worker.join()
        growing.close()
        if finish and failure:
            raise failure[0] from None
        raise
    worker.join()
    growing.close()
    if failure:  # e.g. the server sent more than it announced after the reader was done
        for attachment in opened.attachments:
            if attachment.saved_to is not None:
                attachment.saved_to.unlink(missing_ok=True)
        raise failure[0]
    return FetchedMessage(located, opened, growing.path)
