"""services.run_connection_test: plain words for each way a connection fails, and Cancel that
returns at once (real sockets on 127.0.0.1; the server side is a raw socket that says nothing)."""

from __future__ import annotations

import socket
import threading
import time

from smimehelper.core.transport.accounts import make_account
from smimehelper.services.connection_test import run_connection_test


def account(host: str, port: int, security: str = "starttls"):  # type: ignore[no-untyped-def]
    return make_account("dana@dentist.example", smtp_host=host, smtp_port=port, security=security, username="dana")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_refused_port() -> None:
    port = free_port()
    outcome = run_connection_test(None, account("127.0.0.1", port), None)
    assert not outcome.ok and f"does not accept connections on port {port}" in outcome.problem
    assert "ConnectionRefusedError" in outcome.details and "tried again" not in outcome.problem


def test_unknown_server_name() -> None:
    outcome = run_connection_test(None, account("smtp.no-such-provider.invalid", 587), None)
    assert not outcome.ok and "smtp.no-such-provider.invalid" in outcome.problem
    assert "Errno" not in outcome.problem and "gaierror" in outcome.details


def test_tls_on_a_server_that_speaks_plain_smtp_first() -> None:
    """Port 587 with "TLS from the start": the server's plain greeting breaks the handshake."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def greet() -> None:
        conn, _ = listener.accept()
        conn.sendall(b"220 mail.example ESMTP\r\n")
        time.sleep(0.5)
        conn.close()

    thread = threading.Thread(target=greet, daemon=True)
    thread.start()
    try:
        outcome = run_connection_test(None, account("127.0.0.1", listener.getsockname()[1], "tls"), None)
    finally:
        thread.join(5)
        listener.close()
    assert not outcome.ok and "security setting does not match the port" in outcome.problem


def test_cancel_returns_at_once_on_a_silent_server() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    try:
        outcome = run_connection_test(None, account("127.0.0.1", listener.getsockname()[1]), None, cancel.is_set)
        took = time.monotonic() - started
    finally:
        listener.close()  # the abandoned attempt ends now
    assert outcome.cancelled and not outcome.ok and took < 2
