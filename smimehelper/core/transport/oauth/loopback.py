"""The loopback redirect (RFC 8252 7.3): a one-shot HTTP listener on 127.0.0.1 (and ::1).

The provider's page sends the browser to ``http://127.0.0.1:<port>/?code=..&state=..``; this
listener takes that one request, answers with a short "you are signed in" page and hands the
parameters back. It listens only on the loopback interface, on a port the system picks, for
as long as one sign-in takes. Requests that do not carry the expected ``state`` (another local
program, a stale tab, a favicon) are answered and ignored, never taken for the answer. Each
connection gets a few seconds and a few KB: a stalled or flooding client cannot block the wait.
"""

from __future__ import annotations

import html
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from .errors import SignInCancelled

MAX_REQUEST_BYTES = 16 * 1024
CONNECTION_SECONDS = 5.0


@dataclass(frozen=True)
class RedirectAnswer:
    params: dict[str, str]  # the query parameters, each given once


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>smimehelper</title>
<style>body{{font-family:sans-serif;max-width:34em;margin:4em auto;line-height:1.5}}</style></head>
<body><h1 id="result">{title}</h1><p>{text}</p></body></html>"""


def _page(title: str, text: str) -> bytes:
    return _PAGE.format(title=html.escape(title), text=html.escape(text)).encode("utf-8")


class LoopbackReceiver:
    """Listen on the loopback interface; ``redirect_uri`` is what the provider must send back to."""

    def __init__(self, template: str = "http://127.0.0.1:{port}/") -> None:
        host = urlsplit(template.format(port=1)).hostname or "127.0.0.1"
        self.path = urlsplit(template.format(port=1)).path or "/"
        self._sockets: list[socket.socket] = []
        first = socket.socket(socket.AF_INET6 if host == "::1" else socket.AF_INET, socket.SOCK_STREAM)
        self._sockets.append(first)
        first.bind(("::1" if host == "::1" else "127.0.0.1", 0))
        self.port = first.getsockname()[1]
        if host == "localhost":  # the browser may resolve localhost to ::1 first (RFC 8252 8.3)
            try:
                six = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                try:
                    six.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    six.bind(("::1", self.port))
                except OSError:
                    six.close()
                else:
                    self._sockets.append(six)
            except OSError:
                pass
        for sock in self._sockets:
            sock.listen(8)
            sock.setblocking(False)
        self.redirect_uri = template.format(port=self.port)

    def wait(self, state: str, timeout: float, cancel: threading.Event | None = None) -> RedirectAnswer:
        """The parameters of the first request to our path whose ``state`` matches."""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            for sock in self._sockets:
                selector.register(sock, selectors.EVENT_READ)
            while True:
                if cancel is not None and cancel.is_set():
                    raise SignInCancelled("The sign-in was cancelled.")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SignInCancelled(
                        f"The sign-in in the browser did not finish within {int(timeout // 60) or 1} minutes. Try again; "
                        "if no browser window opened, open the address smimehelper showed."
                    )
                for key, _ in selector.select(min(left, 0.2)):
                    try:
                        conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
                    except OSError:
                        continue
                    answer = self._serve(conn, state)
                    if answer is not None:
                        return answer

    def _serve(self, conn: socket.socket, state: str) -> RedirectAnswer | None:
        with conn:
            conn.settimeout(CONNECTION_SECONDS)
            head = b""
            started = time.monotonic()
            try:
                while b"\r\n\r\n" not in head and b"\n\n" not in head:
                    if len(head) > MAX_REQUEST_BYTES or time.monotonic() - started > CONNECTION_SECONDS:
                        self._reply(conn, 431, "Request too large", "")
                        return None
                    chunk = conn.recv(4096)
                    if not chunk:
                        return None
                    head += chunk
            except OSError:
                return None
            line = head.split(b"\n", 1)[0].decode("latin-1").strip()
            parts = line.split(" ")
            if len(parts) != 3 or parts[0] != "GET":
                self._reply(conn, 405, "Not supported", "")
                return None
            target = urlsplit(parts[1])
            if target.path != self.path:
                self._reply(conn, 404, "Not found", "")
                return None
            raw = parse_qs(target.query, keep_blank_values=True, max_num_fields=32)
            params = {k: v[0] for k, v in raw.items()}
            if params.get("state") != state or any(len(v) != 1 for v in raw.values()):
                self._reply(conn, 400, "Not this sign-in",
                            "This answer does not belong to the sign-in smimehelper is waiting for. Close this tab.")
                return None
            if "error" in params:
                self._reply(conn, 200, "Not signed in", "The sign-in did not succeed. Go back to smimehelper for what to do.")
            else:
                self._reply(conn, 200, "Signed in", "You are signed in. You can close this tab and go back to smimehelper.")
            return RedirectAnswer(params)

    @staticmethod
    def _reply(conn: socket.socket, status: int, title: str, text: str) -> None:
        body = _page(title, text)
        head = (
            f"HTTP/1.1 {status} {title}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n"
        ).encode("latin-1")
        try:
            conn.sendall(head + body)
        except OSError:
            pass

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    def __enter__(self) -> LoopbackReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
