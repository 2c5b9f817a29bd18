"""Forwarding the disclosure log to the practice's log server: syslog over TLS (RFC 5425).

The log file itself is the durable spool: every entry is on disk (fsynced) before anything is
sent, and ``forward.json`` remembers the last entry the server has confirmed. Each run opens
one connection, sends every entry after that one in order, then closes the TLS session
cleanly (close_notify, then waiting for the server to close its side). Only when the server
has closed cleanly, which it does after reading everything we sent, does the remembered
position move on. So a server that is down or stops half-way loses nothing (the entries are
sent at the next run) and an entry the server confirmed is never sent again. RFC 5425 has no
per-message acknowledgement: if the connection breaks after the server read some messages
but before it closed, those are sent again; each carries its log id and seq, so the server
side can recognise the repeat. Only one process forwards at a time (a lock file).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..jsonstore import read_document, write_document
from .store import DisclosureLog, Entry, parse_line
from .syslog import format_message, frame

DEFAULT_PORT = 6514  # RFC 5425 section 4.1
STATE_KIND = "disclosure-forward"
MAX_PER_CONNECTION = 5000


class ForwardError(UserError):
    pass


@dataclass(frozen=True)
class ForwardConfig:
    host: str
    port: int = DEFAULT_PORT
    cafile: str | None = None  # None: the system's trusted authorities

    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ForwardResult:
    sent: int
    pending: int
    problem: str | None = None
    busy: bool = False  # another process was forwarding


class Forwarder:
    def __init__(self, log: DisclosureLog) -> None:
        self.log = log
        self.state_path = log.folder / "forward.json"

    # -- configuration -----------------------------------------------------------------
    def config(self) -> ForwardConfig | None:
        doc = read_document(self.state_path, STATE_KIND, 1)
        if not doc or not doc.get("host"):
            return None
        return ForwardConfig(str(doc["host"]), int(doc.get("port", DEFAULT_PORT)), doc.get("cafile"))

    def configure(self, config: ForwardConfig | None) -> None:
        """Set (or with None, stop) forwarding; the position already confirmed is kept."""
        if config is not None:
            if not config.host or any(c.isspace() or ord(c) < 33 for c in config.host) or len(config.host) > 253:
                raise ForwardError(f"{config.host!r} is not a host name; give the log server's name or address.")
            if not 0 < config.port < 65536:
                raise ForwardError(f"{config.port} is not a port number (1-65535; syslog over TLS uses 6514).")
            if config.cafile is not None:
                path = Path(config.cafile)
                if not path.is_file():
                    raise ForwardError(f"The authority file {path} does not exist or is not a file.")
                try:
                    ssl.create_default_context(cafile=str(path))
                except (ssl.SSLError, OSError, ValueError):
                    raise ForwardError(f"{path} holds no certificate authority (PEM) that TLS can use.") from None
        state = self._state()
        body = {"sent_seq": state.get("sent_seq", 0), "offset": state.get("offset", 0), "log": state.get("log")}
        if config is not None:
            body.update(host=config.host, port=config.port, cafile=str(Path(config.cafile).resolve()) if config.cafile else None)
        self.log.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_document(self.state_path, STATE_KIND, 1, body)

    def _state(self) -> dict:
        return dict(read_document(self.state_path, STATE_KIND, 1) or {})

    def confirmed(self) -> int:
        return int(self._state().get("sent_seq", 0))

    # -- sending -------------------------------------------------------------------------
    def pending(self) -> int:
        return sum(1 for _ in self._pending_entries(self._state()))

    def send_pending(self, *, timeout: float = 10.0) -> ForwardResult:
        config = self.config()
        if config is None:
            return ForwardResult(0, 0, "Forwarding to a log server is not set up.")
        from filelock import FileLock, Timeout

        try:
            lock = FileLock(str(self.log.folder / "forward.lock"), timeout=0, mode=0o600)
            lock.acquire()
        except Timeout:
            return ForwardResult(0, self.pending(), None, busy=True)
        except OSError as exc:
            return ForwardResult(0, 0, f"The disclosure folder cannot be used ({exc.strerror}).")
        try:
            return self._send_locked(config, timeout)
        finally:
            lock.release()

    def _send_locked(self, config: ForwardConfig, timeout: float) -> ForwardResult:
        state = self._state()
        log_id = self.log.log_id() or ""
        if state.get("log") not in (None, log_id):  # a new log (restored data folder): start over
            state.update(sent_seq=0, offset=0)
        batch = []
        for entry, line, end in self._pending_entries(state):
            batch.append((entry, line, end))
            if len(batch) >= MAX_PER_CONNECTION:
                break
        if not batch:
            return ForwardResult(0, 0)
        try:
            self._deliver(config, [frame(format_message(e, line, log_id)) for e, line, _ in batch], timeout)
        except ForwardError as exc:
            return ForwardResult(0, self.pending(), str(exc))
        last_entry, _, end = batch[-1]
        state.update(sent_seq=last_entry.seq, offset=end, log=log_id)
        write_document(self.state_path, STATE_KIND, 1, {k: v for k, v in state.items() if k not in ("kind", "schema")})
        return ForwardResult(len(batch), self.pending())

    def _pending_entries(self, state: dict) -> Iterator[tuple[Entry, bytes, int]]:
        """(entry, its line, file offset after it) for every complete entry after the confirmed one."""
        sent = int(state.get("sent_seq", 0))
        if not self.log.path.is_file():
            return
        position = self._resume_offset(sent, int(state.get("offset", 0)))
        with open(self.log.path, "rb") as handle:
            handle.seek(position)
            for raw in handle:
                position += len(raw)
                if not raw.endswith(b"\n"):
                    return  # a torn last line is not an entry (it is set aside at the next append)
                try:
                    entry = parse_line(raw[:-1])
                except ValueError:
                    raise ForwardError("The disclosure log is damaged; run 'smimehelper log verify' to see where.") from None
                if entry.seq > sent:
                    yield entry, raw[:-1], position

    def _resume_offset(self, sent: int, offset: int) -> int:
        """Where the first unconfirmed entry starts, if the remembered offset still fits, else 0."""
        if not offset:
            return 0
        with open(self.log.path, "rb") as handle:
            handle.seek(0, 2)
            if offset > handle.tell():
                return 0
            handle.seek(offset - 1)
            if handle.read(1) != b"\n":
                return 0
            line = handle.readline()
        if not line:
            return offset
        try:
            return offset if parse_line(line.rstrip(b"\n")).seq == sent + 1 else 0
        except ValueError:
            return 0

    def _deliver(self, config: ForwardConfig, messages: list[bytes], timeout: float) -> None:
        context = ssl.create_default_context(cafile=config.cafile) if config.cafile else ssl.create_default_context()
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            raw = socket.create_connection((config.host, config.port), timeout=timeout)
        except OSError as exc:
            raise ForwardError(f"The log server {config.where()} cannot be reached ({exc.strerror or exc}); "
                               "the entries stay in the spool and are sent later.") from None
        try:
            with contextlib.closing(raw):
                try:
                    tls = context.wrap_socket(raw, server_hostname=config.host)
                except ssl.SSLCertVerificationError as exc:
                    raise ForwardError(f"The log server {config.where()} did not prove its identity "
                                       f"({exc.verify_message}); nothing was sent. Check --cafile and the host name.") from None
                with contextlib.closing(tls):
                    for message in messages:
                        tls.sendall(message)
                    _close_confirmed(tls, timeout)
        except ForwardError:
            raise
        except (OSError, ssl.SSLError) as exc:
            raise ForwardError(f"The connection to the log server {config.where()} broke ({exc.__class__.__name__}); "
                               "the entries stay in the spool and are sent again.") from None


def _close_confirmed(tls: ssl.SSLSocket, timeout: float) -> None:
    """Send close_notify and wait until the server closes its side (it has read everything)."""
    tls.settimeout(timeout)
    try:
        plain = tls.unwrap()
    except ssl.SSLError as exc:  # the server closed the TCP connection without its close_notify
        if "EOF" not in type(exc).__name__ and "EOF" not in str(exc).upper():
            raise
        return
    except (ConnectionResetError, BrokenPipeError):
        raise
    except OSError as exc:
        if getattr(exc, "errno", None) == 0:  # "Underlying socket connection gone" after a clean close
            return
        raise
    plain.settimeout(timeout)
    plain.shutdown(socket.SHUT_WR)
    while plain.recv(4096):
        pass
