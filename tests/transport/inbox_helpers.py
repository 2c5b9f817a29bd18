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


def flags_and_count(server: DovecotServer, folder: str) -> dict[int, frozenset[str]]:
    """UID -> stored flags (without \\Recent), read with EXAMINE so nothing changes."""
    from tests.transport.servers import imap_fetch_messages

    return {m.uid: m.flags for m in imap_fetch_messages(server, folder)}


@dataclass
class TcpProxy:
    """Relay ``listen_host:port`` -> ``upstream``; cut the first ``drop_connections`` connections
    after ``drop_after`` bytes from the server. Use as a context manager."""

    upstream: tuple[str, int]
    listen_host: str = "127.0.0.1"
    drop_after: int | None = None
    drop_connections: int = 1
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
        text = text.replace("    ssl = yes\n", "")
        config.write_text(text, encoding="utf-8")
        self.config_text = text
