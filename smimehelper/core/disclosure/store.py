"""The append-only, hash-chained disclosure log file.

One JSON object per line (``log.jsonl``), canonical (sorted keys, no spaces, ASCII), so its
bytes are the same wherever it is re-encoded. Each entry carries ``prev``, the SHA-256 of the
previous line's bytes, and ``seq``, its place (the genesis entry is 1): editing, deleting,
reordering or inserting a line breaks the chain at that place (see :mod:`.verify`).

Writing is the one thing a transfer waits for, so it is careful:

* one writer at a time across processes (a lock file next to the log; CLI and GUI share it);
* the line is written with O_APPEND and fsynced before :meth:`DisclosureLog.append` returns;
  only then may the message leave;
* a kill -9 in the middle of a write leaves a last line without its newline (a "torn" line).
  The next append moves those bytes to ``torn/`` and records that it did in the chain, so
  nothing is silently dropped and the log still verifies;
* ``head.json`` (written atomically after each append) remembers the last entry; a log whose
  tail was cut off at a line boundary is then still found out by ``log verify``;
* a full disk or a read-only folder raises :class:`LogWriteError`: the caller must then not send.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..jsonstore import read_document, write_document
from ..secrets import SecretStore

FORMAT = 1
GENESIS_PREV = "0" * 64
LOG_FILE = "log.jsonl"
LOCK_TIMEOUT = 30.0
KINDS = ("genesis", "transfer", "outcome", "checkpoint", "torn")


class LogError(UserError):
    """The disclosure log cannot be read or used as asked."""


class LogWriteError(LogError):
    """The disclosure log cannot be written: nothing may be sent until it can."""


@dataclass(frozen=True)
class Entry:
    seq: int
    id: str
    time: str
    kind: str
    prev: str
    data: Mapping[str, Any]
    digest: str  # SHA-256 of this entry's line (without the newline)
    mac: str = ""  # HMAC-SHA256 with the log's key from the OS keyring, when it has one

    @property
    def when(self) -> dt.datetime:
        return parse_time(self.time)


def mac_key_name(log_id: str) -> str:
    return f"disclosure-log-{log_id}"


def encode(entry: Mapping[str, Any]) -> bytes:
    """The one canonical encoding of an entry (the chain hashes these bytes)."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def digest_of(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def format_time(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def parse_line(line: bytes) -> Entry:
    """An entry from its line; ValueError when it is not a well-formed canonical entry."""
    try:
        obj = json.loads(line.decode("ascii"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a readable entry ({type(exc).__name__})") from None
    if not isinstance(obj, dict):
        raise ValueError("not an entry")
    required = {"v": int, "seq": int, "id": str, "time": str, "kind": str, "prev": str, "data": dict}
    for name, kind in required.items():
        if not isinstance(obj.get(name), kind) or isinstance(obj.get(name), bool):
            raise ValueError(f"the field {name!r} is missing or wrong")
    if not set(required) <= set(obj) <= {*required, "mac"} or not isinstance(obj.get("mac", ""), str):
        raise ValueError("it has fields an entry does not have")
    if encode(obj) != line:
        raise ValueError("its bytes are not the canonical encoding (edited by hand?)")
    try:
        parse_time(obj["time"])
    except ValueError:
        raise ValueError("its time is malformed") from None
    return Entry(obj["seq"], obj["id"], obj["time"], obj["kind"], obj["prev"], obj["data"], digest_of(line), obj.get("mac", ""))


def entry_mac(key: bytes, entry: Entry) -> str:
    """HMAC-SHA256 over the entry's canonical encoding without its ``mac`` field."""
    body = {"v": FORMAT, "seq": entry.seq, "id": entry.id, "time": entry.time, "kind": entry.kind,
            "prev": entry.prev, "data": dict(entry.data)}
    return hmac.new(key, encode(body), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class RawLine:
    number: int  # 1-based line number
    data: bytes  # without the newline
    complete: bool  # False for a last line without its newline (a torn write)


class DisclosureLog:
    """The log in ``folder`` (normally ``<data folder>/disclosure``)."""

    def __init__(self, folder: Path, *, lock_timeout: float = LOCK_TIMEOUT, secrets: SecretStore | None = None) -> None:
        """``secrets``: where the log's authentication key lives (the OS keyring); without a
        secure one, entries are protected by the chain and the signed checkpoints alone."""
        self.folder = Path(folder)
        self.secrets = secrets
        self.path = self.folder / LOG_FILE
        self.head_path = self.folder / "head.json"
        self.torn_folder = self.folder / "torn"
        self.checkpoint_folder = self.folder / "checkpoints"
        self.lock_timeout = lock_timeout

    # -- writing -------------------------------------------------------------------------
    def append(self, kind: str, data: Mapping[str, Any], now: dt.datetime) -> Entry:
        """Write one entry durably and return it (raises LogWriteError when it cannot)."""
        if kind not in KINDS or kind == "genesis":
            raise ValueError(f"cannot append an entry of kind {kind!r}")
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            with self.locked():
                last = self._prepare_tail(now)
                entry = self._write_entry(last, kind, data, now)
                self._write_head_quietly(entry)
                return entry
        except OSError as exc:
            raise LogWriteError(_write_problem(self.folder, exc)) from None

    def append_built(self, build: Callable[[Entry, str], tuple[str, Mapping[str, Any]]], now: dt.datetime) -> Entry:
        """Like :meth:`append`, with the entry built from the last one and the log's id while
        the lock is held (a checkpoint signs exactly the head it records)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            with self.locked():
                last = self._prepare_tail(now)
                kind, data = build(last, self.log_id() or "")
                entry = self._write_entry(last, kind, data, now)
                self._write_head_quietly(entry)
                return entry
        except OSError as exc:
            raise LogWriteError(_write_problem(self.folder, exc)) from None

    def log_id(self) -> str | None:
        """The random id the genesis entry gave this log (None when there is no log yet)."""
        for raw in self.lines():
            try:
                entry = parse_line(raw.data)
            except ValueError:
                return None
            return str(entry.data.get("log")) if entry.kind == "genesis" else None
        return None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the log's lock (one writer at a time across processes)."""
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.folder / "log.lock"), timeout=self.lock_timeout, mode=0o600)
        try:
            lock.acquire()
        except Timeout:
            raise LogWriteError(
                f"Another smimehelper window or command has held the disclosure log in {self.folder} "
                f"for more than {self.lock_timeout:.0f} seconds. Close it or wait, then try again."
            ) from None
        try:
            yield
        finally:
            lock.release()

    def _prepare_tail(self, now: dt.datetime) -> Entry:
        """The last entry, after setting a torn last line aside (and starting a new log)."""
        last, torn, offset = self._read_tail()
        if torn:
            aside = self._set_aside(torn, offset, now)
            if last is None:
                last = self._write_entry(None, "genesis", self._genesis_data(now), now)
            last = self._write_entry(last, "torn", {
                "bytes": len(torn), "sha256": digest_of(torn), "file": aside,
                "note": "an interrupted write (the program was stopped while writing) was set aside",
            }, now)
        elif last is None:
            last = self._write_entry(None, "genesis", self._genesis_data(now), now)
        return last

    def _genesis_data(self, now: dt.datetime) -> dict[str, Any]:
        from ... import __version__

        log_id = secrets.token_hex(8)
        data: dict[str, Any] = {"log": log_id, "created": format_time(now), "app": f"smimehelper {__version__}"}
        if self.secrets is not None and self.secrets.available():
            if self.secrets.put(mac_key_name(log_id), secrets.token_bytes(32)):
                data["mac"] = "hmac-sha256"
        self._key_cache = None
        return data

    def mac_key(self) -> bytes | None:
        """The log's authentication key, if it has one and the keyring gives it."""
        cached = getattr(self, "_key_cache", None)
        if cached is not None:
            return cached or None
        key = None
        first = next(iter(self.entries()), None)
        if first is not None and first.kind == "genesis" and first.data.get("mac") and self.secrets is not None:
            key = self.secrets.get(mac_key_name(str(first.data.get("log"))))
        self._key_cache = key or b""
        return key

    def authenticated(self) -> bool:
        """Whether this log's genesis entry promises an authentication code on every entry."""
        first = next(iter(self.entries()), None)
        return bool(first is not None and first.kind == "genesis" and first.data.get("mac"))

    def _write_entry(self, last: Entry | None, kind: str, data: Mapping[str, Any], now: dt.datetime) -> Entry:
        seq = 1 if last is None else last.seq + 1
        obj = {"v": FORMAT, "seq": seq, "id": secrets.token_hex(8), "time": format_time(now), "kind": kind,
               "prev": GENESIS_PREV if last is None else last.digest, "data": dict(data)}
        key = (self.secrets.get(mac_key_name(str(data.get("log")))) if kind == "genesis" and data.get("mac") and self.secrets
               else self.mac_key() if last is not None else None)
        if key:
            obj["mac"] = hmac.new(key, encode(obj), hashlib.sha256).hexdigest()
        line = encode(obj)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            start = os.fstat(fd).st_size
            try:
                view = memoryview(line + b"\n")
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except OSError:
                with contextlib.suppress(OSError):  # never leave a half line behind if we can help it
                    os.ftruncate(fd, start)
                    os.fsync(fd)
                raise
        finally:
            os.close(fd)
        if seq == 1:
            _fsync_directory(self.folder)
        return parse_line(line)

    def _write_head_quietly(self, entry: Entry) -> None:
        """The entry is durable already; a head.json that cannot be updated (full disk) only lags,
        which verify accepts (as after a crash between the two writes)."""
        with contextlib.suppress(OSError):
            self._write_head(entry)

    def _write_head(self, entry: Entry) -> None:
        write_document(self.head_path, "disclosure-head", 1, {"seq": entry.seq, "digest": entry.digest, "id": entry.id})

    def _set_aside(self, torn: bytes, offset: int, now: dt.datetime) -> str:
        self.torn_folder.mkdir(exist_ok=True, mode=0o700)
        name = f"{now.astimezone(dt.timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}.part"
        from ..atomic import write_atomic

        write_atomic(self.torn_folder / name, torn)
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.ftruncate(fd, offset)
            os.fsync(fd)
        finally:
            os.close(fd)
        return f"torn/{name}"

    # -- reading -------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.is_file()

    def head(self) -> Mapping[str, Any] | None:
        """What head.json says about the last entry written (None before the first)."""
        doc = read_document(self.head_path, "disclosure-head", 1)
        return doc

    def lines(self) -> Iterator[RawLine]:
        """Every line as stored, in bounded memory."""
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise LogError(f"The disclosure log {self.path} cannot be read: {exc.strerror}.") from None
        with handle:
            number = 0
            for raw in handle:
                number += 1
                complete = raw.endswith(b"\n")
                yield RawLine(number, raw[:-1] if complete else raw, complete)

    def entries(self) -> Iterator[Entry]:
        """The well-formed, complete entries (a torn or damaged line is skipped: see verify)."""
        for raw in self.lines():
            if not raw.complete:
                continue
            try:
                yield parse_line(raw.data)
            except ValueError:
                continue

    def _read_tail(self) -> tuple[Entry | None, bytes, int]:
        """(last complete entry, torn bytes after it, offset where the torn bytes begin)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return None, b"", 0
        if size == 0:
            return None, b"", 0
        with open(self.path, "rb") as handle:
            chunks: list[bytes] = []  # read backwards, newest first, until two newlines are seen
            newlines, end = 0, size
            while end > 0 and newlines < 2:
                start = max(0, end - (1 << 16))
                handle.seek(start)
                chunk = handle.read(end - start)
                chunks.append(chunk)
                newlines += chunk.count(b"\n")
                end = start
            buffer = b"".join(reversed(chunks))
        last_nl = buffer.rfind(b"\n")
        if last_nl == -1:
            return None, buffer, 0  # not one complete line: all of it is torn
        prev_nl = buffer.rfind(b"\n", 0, last_nl)
        torn = buffer[last_nl + 1:]
        last_line = buffer[prev_nl + 1:last_nl]
        torn_offset = size - len(torn)
        try:
            return parse_line(last_line), torn, torn_offset
        except ValueError as exc:
            raise LogWriteError(
                f"The last entry of the disclosure log {self.path} is damaged ({exc}), so no new "
                "entry can be chained to it and nothing can be sent. Run 'smimehelper log verify' "
                "to see where, and keep the file for your records."
            ) from None


def _write_problem(folder: Path, exc: OSError) -> str:
    import errno

    reason = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "your disk quota is used up",
        errno.EROFS: "the disk is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
    }.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return (
        f"The disclosure log in {folder} cannot be written ({reason}). Nothing was sent: every "
        "transfer is recorded before it leaves. Free some disk space or make the folder writable, "
        "then try again."
    )


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
