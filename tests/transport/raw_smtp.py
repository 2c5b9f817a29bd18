"""Scripted SMTP servers on raw sockets: servers that stall, drop, answer garbage or lie.

aiosmtpd (servers.py) is a well-behaved server; the attacks of the developers' guide need a peer
that does exactly the wrong thing at exactly one step. ``RawSmtpServer`` listens on 127.0.0.1
(ephemeral port) with implicit TLS (the test CA's ``localhost`` certificate: smimehelper never
talks SMTP in clear, so the client is the real one, TLS verification included) and runs a
*script*, a function that gets a ``Conversation`` per connection and writes and reads raw
bytes: nothing is interpreted for it except by the helpers it calls.

Records: ``connections`` (accepted TCP connections), ``messages`` (every complete DATA payload,
final dot received, transparency dots removed), ``commands`` (every command line received).
``stop()`` closes every socket and joins every thread; use the ``raw_smtp`` fixture, which stops
all servers after the test.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.transport.servers import HOST, TlsMaterials

USER = "dentist@example.org"


class Closed(Exception):
    """The client went away (or the server is stopping)."""


class Conversation:
    def __init__(self, server: RawSmtpServer, sock: ssl.SSLSocket) -> None:
        self.server = server
        self.sock = sock
        self._buffer = b""

    # -- raw I/O -----------------------------------------------------------------------------
    def send(self, data: str | bytes) -> None:
        """A reply: a str gets CRLF appended, bytes go out exactly as given."""
        raw = (data + "\r\n").encode("utf-8") if isinstance(data, str) else data
        try:
            self.sock.settimeout(10)
            self.sock.sendall(raw)
        except OSError as exc:
            raise Closed from exc
        finally:
            try:
                self.sock.settimeout(0.1)
            except OSError:
                pass

    def _fill(self) -> None:
        while True:
            if self.server.stopping.is_set():
                raise Closed
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            except (OSError, ssl.SSLError) as exc:
                raise Closed from exc
            if not chunk:
                raise Closed
            self._buffer += chunk
            return

    def line(self) -> bytes:
        """One line from the client, CRLF removed."""
        while b"\r\n" not in self._buffer:
            self._fill()
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def command(self) -> str:
        text = self.line().decode("utf-8", "replace")
        with self.server.lock:
            self.server.commands.append(text)
        return text

    def data(self) -> bytes:
        """The message after 354, up to and including the final dot (recorded in ``messages``)."""
        while b"\r\n.\r\n" not in self._buffer and not self._buffer.startswith(b".\r\n"):
            self._fill()
        if self._buffer.startswith(b".\r\n"):
            payload, self._buffer = b"", self._buffer[3:]
        else:
            payload, self._buffer = self._buffer.split(b"\r\n.\r\n", 1)
            payload += b"\r\n"
        lines = payload.split(b"\r\n")
        payload = b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)
        with self.server.lock:
            self.server.messages.append(payload)
        return payload

    def read_bytes(self, count: int) -> None:
        """Take ``count`` bytes of whatever the client sends (then the script may stall)."""
        while len(self._buffer) < count:
            self._fill()
        self._buffer = self._buffer[count:]

    def stall(self) -> None:
        """Read nothing and say nothing, until the client gives up or the server stops."""
        while not self.server.stopping.wait(0.05):
            pass
        raise Closed

    def drop(self) -> None:
        """Close the connection at once, without a word."""
        try:
            self.sock.close()
        finally:
            raise Closed

    # -- the usual opening -------------------------------------------------------------------
    def opening(self, *, ehlo: tuple[str, ...] = ("AUTH PLAIN LOGIN",)) -> str:
        """Greet, answer EHLO (with ``ehlo`` extensions) and AUTH; returns the first other
        command (normally MAIL FROM)."""
        self.send("220 raw.example ESMTP scripted")
        while True:
            cmd = self.command()
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                lines = ["raw.example", *ehlo]
                self.send("".join(f"250{'-' if i < len(lines) - 1 else ' '}{text}\r\n" for i, text in enumerate(lines)).encode())
            elif verb == "AUTH":
                self.send("235 2.7.0 Authentication successful")
            elif verb == "RSET" or verb == "NOOP":
                self.send("250 OK")
            else:
                return cmd

    def through_rcpt(self, first: str) -> str:
        """After ``opening``: accept MAIL (``first``) and every RCPT; returns the next command."""
        assert first.upper().startswith("MAIL FROM:"), first
        self.send("250 2.1.0 OK")
        while True:
            cmd = self.command()
            if cmd.upper().startswith("RCPT TO:"):
                self.send("250 2.1.5 OK")
            else:
                return cmd

    def through_data(self, first: str) -> bytes:
        """``through_rcpt`` then 354 and the whole message; returns it (the reply is the script's)."""
        cmd = self.through_rcpt(first)
        assert cmd.upper() == "DATA", cmd
        self.send("354 Go ahead")
        return self.data()

    def serve_rest(self) -> None:
        """Behave: accept every further message, answer QUIT."""
        while True:
            cmd = self.command()
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "QUIT":
                self.send("221 Bye")
                raise Closed
            if verb == "MAIL":
                self.through_data(cmd)
                self.send("250 2.0.0 Accepted")
            else:
                self.send("250 OK")


Script = Callable[[Conversation], None]


class RawSmtpServer:
    def __init__(self, tls: TlsMaterials, script: Script) -> None:
        self.tls = tls
        self.script = script
        self.host = HOST
        self.port = 0
        self.cafile = tls.cafile
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.connections = 0
        self.messages: list[bytes] = []
        self.commands: list[str] = []
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    def start(self) -> RawSmtpServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, 0))
        listener.listen(16)
        listener.settimeout(0.1)
        self._listener = listener
        self.port = listener.getsockname()[1]
        thread = threading.Thread(target=self._accept, name="raw-smtp-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept(self) -> None:
        context = self.tls.server_context()
        assert self._listener is not None
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self._sockets.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock, context), name="raw-smtp-conn", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, sock: socket.socket, context: ssl.SSLContext) -> None:
        try:
            sock.settimeout(10)
            tls = context.wrap_socket(sock, server_side=True)
            tls.settimeout(0.1)
            with self.lock:
                self._sockets.append(tls)
            self.script(Conversation(self, tls))
        except (Closed, OSError, ssl.SSLError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def stop(self) -> None:
        self.stopping.set()
        if self._listener is not None:
            self._listener.close()
        with self.lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.close()
            except OSError:
                pass
        deadline = time.monotonic() + 10
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self._threads), "a raw SMTP server thread did not stop"

    def __enter__(self) -> RawSmtpServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
