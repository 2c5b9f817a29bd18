"""Helpers for the secure-inbox tests: real Dovecot, real TCP, nothing mocked.

* ``append_file``: put a message into a Dovecot folder with a streamed IMAP APPEND (the test
  process never holds a 300 MB message in memory).
* ``TcpProxy``: a byte-for-byte TCP relay in front of Dovecot that can cut the connection after N
  bytes from the server (the "dropped in the middle of a fetch" case), or listen on an address
  that the server certificate does not name (127.0.0.3: the "wrong host name" case).
* ``PlaintextDovecot``: the same real Dovecot configured without any TLS (``ssl = no``) and
  accepting passwords in clear, so a client that would leak one is caught in its log.
"""

from __future__ import annotations

import imaplib
import re
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tests.transport.servers import DovecotServer, imap_connect

_TAGGED = re.compile(rb"^SMH1 (OK|NO|BAD)")


def append_file(server: DovecotServer, folder: str, message: Path, *, flags: str = "") -> None:
    """APPEND ``message`` to ``folder`` streaming it from disk (RFC 3501 6.3.11, synchronising literal)."""
    size = message.stat().st_size
    with imap_connect(server) as conn:
        flag_part = f" ({flags})" if flags else ""
        conn.send(f'SMH1 APPEND "{folder}"{flag_part} {{{size}}}\r\n'.encode())
        line = conn.readline()
        if not line.startswith(b"+"):
            raise imaplib.IMAP4.error(f"APPEND refused: {line!r}")
        with open(message, "rb") as handle:
            while block := handle.read(1 << 20):
                conn.send(block)
        conn.send(b"\r\n")
        while True:
            line = conn.readline()
            if not line:
                raise imaplib.IMAP4.error("connection closed during APPEND")
            match = _TAGGED.match(line)
            if match:
                if match.group(1) != b"OK":
                    raise imaplib.IMAP4.error(f"APPEND failed: {line!r}")
                return


def append_bytes(server: DovecotServer, folder: str, data: bytes, *, flags: str = "") -> None:
    with imap_connect(server) as conn:
        status, reply = conn.append(f'"{folder}"', f"({flags})" if flags else None, None, data)
        if status != "OK":
            raise imaplib.IMAP4.error(f"APPEND failed: {reply!r}")


def stored_flags(server: DovecotServer, folder: str) -> list[frozenset[str]]:
    """The stored flags (without \\Recent) of every message, in UID order, read with EXAMINE so
    nothing changes: how many messages there are and which are read."""
    from tests.transport.servers import imap_fetch_messages

    return [m.flags for m in imap_fetch_messages(server, folder)]


def uids(server: DovecotServer, folder: str) -> list[int]:
    from tests.transport.servers import imap_fetch_messages

    return [m.uid for m in imap_fetch_messages(server, folder)]


@dataclass
class TcpProxy:
    """Relay ``listen_host:port`` -> ``upstream``; cut the first ``drop_connections`` connections
    after ``drop_after`` bytes from the server. Use as a context manager."""

    upstream: tuple[str, int]
    listen_host: str = "127.0.0.1"
    drop_after: int | None = None
    drop_connections: int = 1
    rate: float | None = None  # bytes per second from the server, to make a fetch take a while
    port: int = 0
    connections: int = 0
    dropped: int = 0
    _server: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _sockets: list[socket.socket] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> TcpProxy:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((self.listen_host, 0))
        server.listen(16)
        server.settimeout(0.2)
        self._server = server
        self.port = server.getsockname()[1]
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept(self) -> None:
        assert self._server is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                cut = self.drop_after if self.drop_after is not None and self.dropped < self.drop_connections else None
                if cut is not None:
                    self.dropped += 1
            try:
                upstream = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.settimeout(None)
                self._sockets.append(sock)
            pair = (client, upstream)
            down = threading.Thread(target=self._pump, args=(upstream, client, cut, pair), daemon=True)
            up = threading.Thread(target=self._pump, args=(client, upstream, None, pair), daemon=True)
            down.start()
            up.start()
            self._threads += [down, up]

    def _pump(self, source: socket.socket, target: socket.socket, cut: int | None,
              pair: tuple[socket.socket, socket.socket]) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if cut is not None and sent + len(data) >= cut:
                    target.sendall(data[: cut - sent])
                    break  # the cut: both sides closed below, in the middle of a reply
                target.sendall(data)
                sent += len(data)
                if self.rate and cut is None and source is not pair[0]:
                    import time

                    time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PlaintextDovecot(DovecotServer):
    """Real Dovecot with TLS switched off and plaintext LOGIN allowed (the server a client must
    refuse to log in to). Both ports speak plain IMAP; ``log_text()`` shows any login attempt."""

    def _prepare_workdir(self) -> None:
        super()._prepare_workdir()
        assert self.workdir is not None
        config = self.workdir / "dovecot.conf"
        text = config.read_text(encoding="utf-8")
        text = text.replace("ssl = required", "ssl = no").replace("disable_plaintext_auth = yes", "disable_plaintext_auth = no")
        text = re.sub(r"ssl_cert = .*\n|ssl_key = .*\n|ssl_min_protocol = .*\n", "", text)
        # Dovecot's built-in "imaps" listener is TLS and is dropped when ssl = no: a plain one instead.
        text = text.replace("    ssl = yes\n", "").replace("inet_listener imaps {", "inet_listener imap_plain_too {")
        config.write_text(text, encoding="utf-8")
        self.config_text = text


_LITERAL_HEAD = re.compile(rb"\{(\d+)\}\r\n$")
_BODY_ORIGIN = re.compile(rb"BODY\[\]<(\d+)>")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclass
class LyingProxy:
    """A TLS endpoint (the test CA's ``localhost`` certificate, so clients trust it) in front of
    Dovecot's IMAPS port that passes everything through except what it is told to lie about:

    * ``size_delta``: add this to every RFC822.SIZE the server announces;
    * ``claim_literal``: announce a message chunk (``BODY[]<n> {len}``) of this many bytes, send
      the real ones and hang up (a client must refuse before allocating);
    * ``extra_bytes``: send this many bytes more in each message chunk than the client asked for;
    * ``shift_origin``: report each chunk at the wrong offset.
    """

    dovecot: DovecotServer
    size_delta: int = 0
    claim_literal: int | None = None
    extra_bytes: int = 0
    shift_origin: int = 0
    port: int = 0
    connections: int = 0
    _server: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _open: list[socket.socket] = field(default_factory=list)

    def start(self) -> LyingProxy:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.settimeout(0.2)
        self._server, self.port = server, server.getsockname()[1]
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept(self) -> None:
        assert self._server is not None
        context = self.dovecot.tls.server_context("localhost")
        while not self._stopping.is_set():
            try:
                raw, _ = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            try:
                raw.settimeout(10)
                client = context.wrap_socket(raw, server_side=True)
                upstream_raw = socket.create_connection((self.dovecot.host, self.dovecot.imaps_port), timeout=10)
                upstream = self.dovecot.tls.client_context().wrap_socket(upstream_raw, server_hostname=self.dovecot.host)
            except OSError:
                raw.close()
                continue
            self._open += [client, upstream]
            for target, args in ((self._up, (client, upstream)), (self._down, (upstream, client))):
                thread = threading.Thread(target=target, args=args, daemon=True)
                thread.start()
                self._threads.append(thread)

    @staticmethod
    def _up(client: socket.socket, upstream: socket.socket) -> None:
        try:
            while data := client.recv(65536):
                upstream.sendall(data)
        except OSError:
            pass

    def _down(self, upstream: socket.socket, client: socket.socket) -> None:
        reader = upstream.makefile("rb")
        try:
            while line := reader.readline(1 << 20):
                if self.size_delta:
                    line = _SIZE.sub(lambda m: b"RFC822.SIZE %d" % (int(m.group(1)) + self.size_delta), line)
                head = _LITERAL_HEAD.search(line)
                if head is None:
                    client.sendall(line)
                    continue
                literal = reader.read(int(head.group(1)))
                if _BODY_ORIGIN.search(line) and b"BODY[]<" in line:
                    if self.shift_origin:
                        line = _BODY_ORIGIN.sub(lambda m: b"BODY[]<%d>" % (int(m.group(1)) + self.shift_origin), line)
                    if self.claim_literal is not None:
                        client.sendall(line[: head.start()] + b"{%d}\r\n" % self.claim_literal + literal)
                        break  # and hang up: the claimed bytes never come
                    if self.extra_bytes:
                        literal += b"X" * self.extra_bytes
                        line = line[: head.start()] + b"{%d}\r\n" % len(literal)
                client.sendall(line + literal)
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        for sock in self._open:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> LyingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_LOGOUT = re.compile(r"Logged out in=(\d+) out=(\d+) .*?hdr_count=(\d+) hdr_bytes=(\d+) body_count=(\d+) body_bytes=(\d+)")


@dataclass(frozen=True)
class SessionTraffic:
    """What Dovecot itself logged when an IMAP session ended (``imap_logout_format``)."""

    bytes_in: int
    bytes_out: int
    header_fetches: int
    body_fetches: int
    body_bytes: int


def session_traffic(server: DovecotServer, *, after: int = 0, wait_for: int = 1, timeout: float = 5.0) -> list[SessionTraffic]:
    """The sessions logged after the first ``after`` ones, waiting until ``wait_for`` are there."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        found = [SessionTraffic(int(a), int(b), int(c), int(e), int(f))
                 for a, b, c, _d, e, f in _LOGOUT.findall(server.log_text())][after:]
        if len(found) >= wait_for or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def sessions_logged(server: DovecotServer, *, settle: float = 1.0, timeout: float = 15.0) -> int:
    """How many sessions Dovecot has logged, once the count stopped changing for ``settle``
    seconds: the logout line of a session that just ended (an APPEND, a FETCH of the set-up) can
    reach the log late on a busy machine, and would then be taken for the next session's."""
    import time

    deadline = time.monotonic() + timeout
    count, since = len(_LOGOUT.findall(server.log_text())), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = len(_LOGOUT.findall(server.log_text()))
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= settle:
            break
    return count
