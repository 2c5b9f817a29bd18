"""One IMAP connection to the user's mailbox, re-made when it breaks; messages fetched in chunks.

A message is fetched with partial FETCH (``BODY.PEEK[]<offset.length>``, RFC 3501 6.4.5), a few
MB at a time, so memory stays small whatever its size, progress can be shown and Cancel works
between chunks. When the connection drops half-way, a new one is made and the fetch resumes at
the first missing byte, after checking that the folder (UIDVALIDITY) and the message (its size)
are still the same; IMAP messages never change, so the resumed bytes are the missing ones.
A server that sends more or fewer bytes than it announced gets a clear error, never a wrong
message. ``PEEK`` leaves the message unread; only :meth:`Mailbox.mark_seen` changes a flag, and
nothing here ever deletes, moves or expunges.
"""

from __future__ import annotations

import imaplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import UserError
from .imap import ImapError
from .imap_client import DEFAULT_MAX_LITERAL, ImapReplyTooLarge
from .imap_syntax import ImapSyntaxError, encode_folder, fetch_items, item_starting, number, quote

CHUNK = 4 * 1024 * 1024
MAX_MESSAGE_BYTES = 4 * 1024 * 1024 * 1024  # far beyond what any provider accepts (150 MB at most)
RETRIES = 3  # consecutive failures without progress before giving up
BACKOFF_SECONDS = (0.5, 2.0, 5.0)
TIMEOUT_SECONDS = 60.0

Connect = Callable[[], imaplib.IMAP4]
"""Makes a new encrypted, logged-in connection (core.transport.imap.connect with the account's
credentials): the one place where the login method lives."""


class FetchCancelled(UserError):
    def __init__(self) -> None:
        super().__init__("Cancelled. The message was not opened and stays unread on the server.")


class FetchInterrupted(ImapError):
    """The connection broke and could not be restored after :data:`RETRIES` attempts."""


class ServerMisbehaved(ImapError):
    """The server contradicted itself (sizes, offsets): its data is not used."""


class MessageGone(ImapError):
    """The message (or its folder) is no longer what it was on the server."""


class ConnectionLost(ImapError):
    """The connection broke; while fetching a message this means a resume, not an error."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"The connection to {where} broke ({detail}). Try again.")
        self.detail = detail


@dataclass(frozen=True)
class MessageRef:
    """A message in a folder: IMAP UIDs are unique within a folder as long as its UIDVALIDITY
    stays the same. ``uidvalidity=None`` accepts the folder's current one."""

    folder: str
    uid: int
    uidvalidity: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.uid < 2 ** 32:  # RFC 3501: nz-number, 32 bits
            raise UserError(f"{self.uid} is not a message number (UID); 'smimehelper inbox list' shows them.")


@dataclass(frozen=True)
class Located:
    ref: MessageRef  # with uidvalidity filled in
    size: int  # RFC822.SIZE as announced


Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]


class Mailbox:
    """A connection to one account's mailbox; use as a context manager."""

    def __init__(self, connect: Connect, *, timeout: float = TIMEOUT_SECONDS, where: str = "the mail server") -> None:
        self._connect = connect
        self.timeout = timeout
        self.where = where
        self._conn: imaplib.IMAP4 | None = None
        self._selected: tuple[str, bool] | None = None  # (folder, writable)
        self._uidvalidity: int | None = None
        self.exists = 0  # messages in the selected folder

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the connection -------------------------------------------------------------------------
    @property
    def conn(self) -> imaplib.IMAP4:
        if self._conn is None:
            conn = self._connect()
            sock = getattr(conn, "sock", None)
            if sock is not None:
                sock.settimeout(self.timeout)
            self._conn, self._selected = conn, None
        return self._conn

    def _drop(self) -> None:
        conn, self._conn, self._selected = self._conn, None, None
        if conn is not None:
            try:
                conn.shutdown()
            except (OSError, imaplib.IMAP4.error):
                pass

    def abort(self) -> None:
        """From another thread: break off a blocking read at once (Cancel, Ctrl-C)."""
        conn = self._conn
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        conn, self._conn, self._selected = self._conn, None, None
        if conn is None:
            return
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error, ImapReplyTooLarge):
            try:
                conn.shutdown()
            except (OSError, imaplib.IMAP4.error):
                pass

    def command(self, name: str, *args: str, uid: bool = True, max_literal: int = DEFAULT_MAX_LITERAL) -> list[Any]:
        """Run a command; its reply data on OK. A broken connection raises :class:`ConnectionLost`."""
        conn = self.conn
        conn.max_literal = max_literal  # type: ignore[attr-defined]
        try:
            typ, data = conn.uid(name, *args) if uid else getattr(conn, name.lower())(*args)
        except (OSError, imaplib.IMAP4.abort) as exc:
            self._drop()
            raise ConnectionLost(self.where, str(exc) or type(exc).__name__) from None
        except ImapReplyTooLarge:
            self._drop()  # the rest of that reply is still on the wire
            raise
        except imaplib.IMAP4.error as exc:
            if str(exc).startswith("got more than"):  # a reply line too long: the rest is still on the wire
                self._drop()
            raise ImapError(f"The mail server refused {name}: {exc}.") from None
        if typ != "OK":
            text = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
            raise ImapError(f"The mail server answered {name} with {typ}: {text or 'no reason given'}.")
        return list(data)

    def select(self, folder: str, *, writable: bool = False) -> int:
        """SELECT (or read-only EXAMINE) ``folder``; returns its UIDVALIDITY."""
        if self._selected == (folder, writable) and self._uidvalidity is not None:
            return self._uidvalidity
        conn = self.conn
        try:
            typ, data = conn.select(quote(encode_folder(folder)), readonly=not writable)
        except (OSError, imaplib.IMAP4.abort) as exc:
            self._drop()
            raise ConnectionLost(self.where, str(exc) or type(exc).__name__) from None
        except imaplib.IMAP4.error as exc:
            raise ImapError(f"The folder {folder} cannot be opened on the mail server: {exc}.") from None
        if typ != "OK":
            raise ImapError(f"There is no folder {folder!r} in this mailbox (or it cannot be opened). "
                            "'smimehelper inbox folders' lists the folders.")
        self.exists = int(data[0]) if data and isinstance(data[0], bytes) and data[0].isdigit() else 0
        codes = conn.untagged_responses.get("UIDVALIDITY") or [b"0"]
        try:
            self._uidvalidity = int(codes[-1])
        except (TypeError, ValueError):
            raise ImapSyntaxError("UIDVALIDITY is not a number") from None
        self._selected = (folder, writable)
        return self._uidvalidity

    # -- one message ----------------------------------------------------------------------------
    def locate(self, ref: MessageRef) -> Located:
        """Check the message is there and learn its size (without reading it)."""
        validity = self.select(ref.folder)
        if ref.uidvalidity is not None and validity != ref.uidvalidity:
            raise MessageGone(f"The folder {ref.folder} was rebuilt on the server since the list was made; "
                              "refresh the list and open the message again.")
        records = [r for r in fetch_items(self.command("FETCH", str(ref.uid), "(UID RFC822.SIZE)"))
                   if r.get("UID") == str(ref.uid).encode()]
        if not records:
            raise MessageGone(f"There is no message {ref.uid} in {ref.folder} on the server (it was deleted or "
                              "moved, or the number is wrong). 'smimehelper inbox list' shows the messages.")
        size = number(records[0].get("RFC822.SIZE"), "RFC822.SIZE")
        if size == 0:
            raise ServerMisbehaved(f"The mail server says message {ref.uid} is empty.")
        if size > MAX_MESSAGE_BYTES:
            raise ServerMisbehaved(
                f"The mail server says message {ref.uid} is {size / 1e9:.1f} GB, more than any mail service "
                "accepts; it is not fetched.")
        return Located(MessageRef(ref.folder, ref.uid, validity), size)

    def _resume(self, located: Located) -> None:
        """A new connection, and on it the same folder, the same message, the same size."""
        if self._conn is None:
            try:
                self.conn
            except ImapError as exc:  # down for now (or refusing): one more failed attempt
                raise ConnectionLost(self.where, str(exc).rstrip(".")) from None
        again = self.locate(located.ref)
        if again.size != located.size:
            raise ServerMisbehaved(
                f"The mail server first said the message is {located.size} bytes, after reconnecting "
                f"{again.size} bytes. Its data is not used; try again later.")

    def fetch_into(self, located: Located, write: Callable[[bytes], None], *, chunk: int = CHUNK,
                   progress: Progress | None = None, cancelled: Cancelled | None = None) -> None:
        """Fetch the whole message in chunks into ``write``, resuming after a dropped connection."""
        ref, size = located.ref, located.size
        offset, failures = 0, 0
        while True:
            if cancelled is not None and cancelled():
                raise FetchCancelled()
            want = min(chunk, size - offset) if offset < size else 1  # at the end: nothing may follow
            try:
                if self._selected is None:
                    self._resume(located)
                data = self._fetch_range(ref, offset, want)
            except ConnectionLost as exc:
                failures += 1
                if failures > RETRIES:
                    raise FetchInterrupted(
                        f"The connection to {self.where} broke while the message was being fetched "
                        f"({offset / 1e6:.1f} of {size / 1e6:.1f} MB) and could not be restored ({exc.detail}). "
                        "Nothing was saved and the message stays unread; try again.") from None
                self._pause(BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS)) - 1], cancelled)
                continue
            failures = 0
            if offset >= size:
                if data:
                    raise ServerMisbehaved(
                        f"The mail server announced {size} bytes for this message but sends more. Its "
                        "data is not used; nothing was saved.")
                return
            if not data:
                raise ServerMisbehaved(
                    f"The mail server announced {size} bytes for this message but it ends after "
                    f"{offset}. Its data is not used; nothing was saved.")
            write(data)
            offset += len(data)
            if progress is not None:
                progress(offset, size)

    def _fetch_range(self, ref: MessageRef, offset: int, length: int) -> bytes:
        data = self.command("FETCH", str(ref.uid), f"(BODY.PEEK[]<{offset}.{length}>)", max_literal=length)
        uid = str(ref.uid).encode()
        found = [r for r in fetch_items(data) if r.get("UID") == uid]
        if not found:
            raise MessageGone(f"Message {ref.uid} disappeared from {ref.folder} on the server while it was "
                              "being fetched (deleted or moved by another mail program).")
        item = item_starting(found[0], "BODY[]")
        if item is None:
            raise ServerMisbehaved("The mail server answered a request for part of the message with something else.")
        name, value = item
        if name not in (f"BODY[]<{offset}>", "BODY[]") or (name == "BODY[]" and offset):
            raise ServerMisbehaved(f"The mail server sent the part at {name[7:-1] or 0} instead of {offset}.")
        if value is None:
            return b""
        if not isinstance(value, bytes) or len(value) > length:
            raise ServerMisbehaved(
                f"The mail server sent {len(value) if isinstance(value, bytes) else 'something'} where at most "
                f"{length} bytes were asked for. Its data is not used; nothing was saved.")
        return value

    def _pause(self, seconds: float, cancelled: Cancelled | None) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if cancelled is not None and cancelled():
                raise FetchCancelled()
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def mark_seen(self, located: Located) -> None:
        """Set \\Seen on the message (the user opened it); no other flag, nothing moved."""
        ref = located.ref
        try:
            validity = self.select(ref.folder, writable=True)
        except ConnectionLost:
            validity = self.select(ref.folder, writable=True)  # one new connection
        if validity != ref.uidvalidity:
            raise MessageGone(f"The folder {ref.folder} was rebuilt on the server; the message was not marked as read.")
        try:
            self.command("STORE", str(ref.uid), "+FLAGS.SILENT", "(\\Seen)")
        except ConnectionLost:
            self.select(ref.folder, writable=True)
            self.command("STORE", str(ref.uid), "+FLAGS.SILENT", "(\\Seen)")
