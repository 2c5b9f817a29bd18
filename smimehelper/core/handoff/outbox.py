"""Put a finished message into Thunderbird's Outbox ("Unsent Messages"), exactly as it is.

Measured with the real Thunderbird 153 (tests/thunderbird): File > Send Unsent Messages then
sends the message byte for byte through the account Thunderbird already has, removing only
its own bookkeeping headers, and files the same bytes in the account's Sent folder. What the
entry needs:

* ``X-Mozilla-Status: 0800`` (queued) and ``X-Mozilla-Status2: 00000000`` first: Thunderbird
  marks a sent entry deleted by rewriting that header in place (0808); without it an index
  rebuilt later would send the message again. ``X-Identity-Key``/``X-Account-Key`` pick the
  account. We use the same in-place rewrite: the mbox entry is written as deleted (0808) and
  flipped to 0800 only after all of it is on disk, so a crash or ``kill -9`` half-way leaves
  a deleted, never-sent fragment instead of a truncated message in the Outbox.
* mbox: a ``From - <date>`` separator line, mboxrd escaping of body lines (``>*From `` gets
  one more ``>``; Thunderbird's MboxParser removes exactly one), a blank line at the end
  (the parser drops it). maildir: one file in ``cur/``, no separator, no escaping.
* The stale index (``Unsent Messages.msf``) removed, so Thunderbird rebuilds it.
* Thunderbird must not be running: one started later never notices the new entry. We take
  the profile lock Thunderbird itself takes (an fcntl lock on ``.parentlock``; on Windows
  ``parent.lock`` held open), so a Thunderbird started meanwhile says the profile is in use
  instead of missing the entry; the lock dies with our process. An append is never
  half-done: on any failure the file is cut back to its old length.
* The Outbox must be shown when Thunderbird starts: its "Send Unsent Messages" counts the
  folder's messages from the index before sending, and a rebuilt index only exists once the
  folder was opened -- measured: without this the first click sends nothing. So the first
  tab of the saved session (session.json) is pointed at the Outbox.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..atomic import write_atomic
from ..errors import InputFileError, UserError
from .prefs import Identity, Outbox

_ESCAPE = re.compile(rb"(?m)^(?=>*From )")
MAX_LINE = 1 << 16
CHUNK = 1 << 20


class ThunderbirdRunning(UserError):
    """Thunderbird has the profile open; an Outbox entry written now would be ignored."""


RUNNING_MESSAGE = (
    "Thunderbird is open. Close Thunderbird (File > Quit), then try again: Thunderbird only picks up "
    "the message when it starts."
)


BUSY_MESSAGE = (
    "Thunderbird's profile is busy (another smimehelper is putting a message into the Outbox, or "
    "Thunderbird is starting). Try again in a moment."
)
OTHER_HANDOFF_WAIT = 30.0
"""How long to wait for another smimehelper holding the lock (it needs well under a second per MB)."""


@contextlib.contextmanager
def profile_lock(profile: Path, *, wait: float = OTHER_HANDOFF_WAIT) -> Iterator[None]:
    """Hold Thunderbird's own lock of ``profile`` (see module doc).

    Raises ThunderbirdRunning at once when Thunderbird holds it; waits up to ``wait`` seconds
    when another process without Thunderbird's pid link holds it (a second smimehelper).
    """
    deadline = time.monotonic() + wait
    if sys.platform == "win32":  # unverified: who holds parent.lock cannot be told, so wait briefly
        deadline = time.monotonic() + min(wait, 3.0)
        while True:
            try:
                handle = open(profile / "parent.lock", "ab")  # Thunderbird holds it without sharing
                break
            except PermissionError:
                if time.monotonic() > deadline:
                    raise ThunderbirdRunning(RUNNING_MESSAGE) from None
                time.sleep(0.2)
            except OSError as exc:
                raise UserError(f"Cannot open Thunderbird's profile {profile}: {exc.strerror}.") from None
        with handle:
            yield
        return
    import fcntl

    try:
        fd = os.open(profile / ".parentlock", os.O_WRONLY | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UserError(f"Cannot open Thunderbird's profile {profile}: {exc.strerror}.") from None
    try:
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if _link_owner_alive(profile, with_fcntl=True):
                    raise ThunderbirdRunning(RUNNING_MESSAGE) from None
                if time.monotonic() > deadline:
                    raise ThunderbirdRunning(BUSY_MESSAGE) from None
                time.sleep(0.1)
        if _link_owner_alive(profile, with_fcntl=False):
            raise ThunderbirdRunning(RUNNING_MESSAGE)
        yield
    finally:
        os.close(fd)  # releases the lock


def _link_owner_alive(profile: Path, *, with_fcntl: bool) -> bool:
    """Whether the ``lock`` symlink (``IP:+PID`` beside the fcntl lock, ``IP:PID`` without one)
    names a live process. A "+" link while *we* hold the fcntl lock is stale, as Thunderbird
    itself decides (nsProfileLock)."""
    try:
        target = os.readlink(profile / "lock")
    except OSError:
        return False
    _, _, pid_text = target.rpartition(":")
    if pid_text.startswith("+") != with_fcntl:
        return False
    pid_text = pid_text.lstrip("+")
    if not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


@dataclass(frozen=True)
class Entry:
    """What was put into the Outbox."""

    path: Path  # the mbox file, or the maildir message file
    offset: int  # where the entry starts in the mbox (0 for maildir)
    size: int  # bytes written


QUEUED = b"0800"
QUEUED_DELETED = b"0808"


def _status_headers(identity: Identity, newline: bytes, status: bytes = QUEUED) -> bytes:
    return newline.join([
        b"X-Mozilla-Status: " + status,
        b"X-Mozilla-Status2: 00000000",
        b"X-Identity-Key: " + identity.key.encode("ascii"),
        b"X-Account-Key: " + identity.account_key.encode("ascii"),
    ]) + newline


class _Writer:
    """Buffered writes straight to a file descriptor. Unlike a BufferedWriter, a failed write
    (full disk) leaves nothing pending that a later truncate or close would try to flush."""

    def __init__(self, fd: int, position: int) -> None:
        self.fd = fd
        self.position = position
        self._pending = bytearray()

    def write(self, data: bytes) -> None:
        self._pending += data
        if len(self._pending) >= 1 << 20:
            self.flush()

    def flush(self) -> None:
        data, self._pending = bytes(self._pending), bytearray()
        offset = 0
        while offset < len(data):
            done = os.write(self.fd, data[offset:offset + (1 << 20)])
            offset += done
            self.position += done

    def discard(self) -> None:
        self._pending.clear()


def _escape(segment: bytes, at_line_start: bool) -> bytes:
    """mboxrd: one more ">" before every line of ``segment`` that starts ``>*From ``."""
    if b"From " not in segment:  # base64 (nearly every byte we copy) never has a space
        return segment
    if at_line_start:
        return _ESCAPE.sub(b">", segment)
    first = segment.find(b"\n") + 1
    if first == 0:
        return segment
    return segment[:first] + _ESCAPE.sub(b">", segment[first:])


def _copy(source: BinaryIO, out: _Writer, *, escape: bool, expected: int) -> bool:
    """Copy ``source`` to ``out`` in bounded memory; with ``escape``, mboxrd-escape body lines
    (header lines never start with "From ", and Thunderbird unescapes only the body).

    Returns whether the copy ended with a line break. Raises if the file changed size.
    """
    copied = 0
    last = b"\n"
    while True:  # the header block, verbatim, up to and including the blank line
        line = source.readline(MAX_LINE)
        if not line:
            break
        copied += len(line)
        out.write(line)
        last = line
        if line in (b"\r\n", b"\n"):
            break
    at_line_start = last.endswith(b"\n")
    tail = b""
    while chunk := source.read(CHUNK):
        copied += len(chunk)
        data = tail + chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) < CHUNK:
            tail = data  # no line end yet: wait for more
            continue
        cut = cut or len(data)  # a line longer than a chunk passes through in pieces
        body, tail = data[:cut], data[cut:]
        out.write(_escape(body, at_line_start) if escape else body)
        at_line_start = body.endswith(b"\n")
        last = body
    if tail:
        out.write(_escape(tail, at_line_start) if escape else tail)
        last = tail
    if copied != expected:
        raise InputFileError("The message file changed while it was being handed over; try again.")
    return last.endswith(b"\n")


def append_mbox(outbox: Outbox, message: BinaryIO, size: int, identity: Identity, newline: bytes) -> Entry:
    """Append one entry to the Outbox mbox (created if missing); all or nothing."""
    outbox.path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(outbox.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UserError(f"Thunderbird's Outbox {outbox.path} is not a file; smimehelper leaves it alone.")
        old_size = os.lseek(fd, 0, os.SEEK_END)
        prefix = b""
        if old_size and os.pread(fd, 1, old_size - 1) != b"\n":
            prefix = newline  # end the last line of a damaged mbox first
        out = _Writer(fd, old_size)
        try:
            separator = b"From - " + time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime()).encode("ascii") + newline
            out.write(prefix + separator + _status_headers(identity, newline, QUEUED_DELETED))
            status_at = old_size + len(prefix) + len(separator) + len(b"X-Mozilla-Status: ")
            if not _copy(message, out, escape=True, expected=size):
                out.write(newline)
            out.write(newline)  # the blank line that ends an mbox entry (Thunderbird drops it)
            out.flush()
            os.fsync(fd)
            # Complete on disk: only now does it become a queued message.
            if os.pwrite(fd, QUEUED, status_at) != len(QUEUED):
                raise OSError("short write")
            os.fsync(fd)
        except BaseException:
            out.discard()
            os.ftruncate(fd, old_size)
            os.fsync(fd)
            raise
        return Entry(path=outbox.path, offset=old_size + len(prefix), size=out.position - old_size)
    finally:
        os.close(fd)


def add_maildir(outbox: Outbox, message: BinaryIO, size: int, identity: Identity, newline: bytes) -> Entry:
    """One new file in the Outbox's ``cur/`` (written in ``tmp/``, then renamed)."""
    for sub in ("cur", "new", "tmp"):
        (outbox.path / sub).mkdir(parents=True, exist_ok=True)
    name = f"{int(time.time() * 1000)}.{uuid.uuid4().hex[:12]}.smimehelper.eml"
    tmp = outbox.path / "tmp" / name
    target = outbox.path / "cur" / name
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        try:
            out = _Writer(fd, 0)
            out.write(_status_headers(identity, newline))
            _copy(message, out, escape=False, expected=size)
            out.flush()
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return Entry(path=target, offset=0, size=out.position)


def forget_index(outbox: Outbox) -> None:
    """Remove the Outbox's .msf so that Thunderbird rebuilds it from the file(s)."""
    with contextlib.suppress(FileNotFoundError):
        outbox.summary.unlink()


def show_outbox_at_start(profile: Path, outbox: Outbox) -> bool:
    """Make Thunderbird's first tab show the Outbox when it starts (see module doc).

    Returns False if session.json has a shape we do not know (then it is left alone).
    """
    path = profile / "session.json"
    tab = {"mode": "mail3PaneTab", "state": {"folderURI": outbox.uri, "folderPaneVisible": True, "messagePaneVisible": True, "firstTab": True}}
    try:
        session = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        session = {"rev": 0, "windows": [{"type": "3pane", "tabs": {"rev": 0, "selectedIndex": 0, "tabs": [tab]}}]}
    except (OSError, ValueError, UnicodeError):
        return False
    else:
        try:
            windows = session["windows"]
            tabs = next(w["tabs"] for w in windows if w.get("type") == "3pane")
            first = next(t for t in tabs["tabs"] if t.get("mode") == "mail3PaneTab")
            first.setdefault("state", {})["folderURI"] = outbox.uri
            tabs["selectedIndex"] = tabs["tabs"].index(first)
        except (KeyError, TypeError, StopIteration, AttributeError):
            return False
    write_atomic(path, json.dumps(session).encode("utf-8"), mode=0o644)
    return True
