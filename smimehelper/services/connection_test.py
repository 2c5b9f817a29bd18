"""The first-run assistant's "Test connection": an answer in words, and a way to stop waiting.

``check_account_connection`` (services/setup.py) connects exactly as sending does; its errors
are written for the outbox ("It will be tried again"), which is wrong for a test nobody will
repeat, and a silent server keeps it waiting up to its timeout. :func:`run_connection_test` runs it
on a helper thread that the caller may abandon (Cancel returns at once; the thread ends by
itself at the connection's timeout and its answer is dropped), and turns every failure into
what to check, in words, with the technical reason kept apart for the Details.
"""

from __future__ import annotations

import errno
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.errors import UserError

if TYPE_CHECKING:
    from ..core.transport.accounts import Account, Credential
    from .setup import ConnectionCheck
    from .stores import Stores

POLL_SECONDS = 0.1


@dataclass(frozen=True)
class ConnectionTest:
    """The outcome: ``check`` when it worked; else ``problem`` (words) and ``details``
    (technical); ``cancelled`` when the user stopped waiting."""

    check: ConnectionCheck | None = None
    problem: str = ""
    details: str = ""
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.check is not None


def run_connection_test(stores: Stores | None, account: Account, password: Credential,
                    cancelled: Callable[[], bool] = lambda: False) -> ConnectionTest:
    """Test the account's connection; returns as soon as it is known or ``cancelled()``."""
    from .setup import check_account_connection

    box: dict[str, object] = {}

    def attempt() -> None:
        try:
            box["check"] = check_account_connection(stores, account, password)
        except BaseException as exc:  # handed to the caller as words
            box["error"] = exc

    worker = threading.Thread(target=attempt, name="smimehelper-connection-test", daemon=True)
    worker.start()
    while worker.is_alive():
        if cancelled():
            return ConnectionTest(cancelled=True, problem="Stopped: the connection test was cancelled. Nothing was changed.")
        worker.join(POLL_SECONDS)
    if "check" in box:
        return ConnectionTest(check=box["check"])  # type: ignore[arg-type]
    error = box.get("error")
    assert isinstance(error, BaseException)
    return ConnectionTest(problem=explain(error, account), details=technical(error))


def _cause(exc: BaseException) -> BaseException:
    """The original error under the DeliveryError it was wrapped in (raised ``from None``)."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    return seen


def explain(exc: BaseException, account: Account) -> str:
    """What went wrong and what to check, in words (never "it will be tried again")."""
    host, port = account.smtp_host, account.smtp_port
    other = 465 if account.security == "starttls" else 587
    cause = _cause(exc)
    if isinstance(cause, socket.gaierror):
        if cause.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_NODATA", -5)):
            return (f"The server name {host} could not be looked up just now. Check that this computer is "
                    "connected to the internet, then test again.")
        return (f"There is no server called {host}. Check the spelling of the outgoing server (your provider's "
                "help pages name it, for example smtp.your-provider.com).")
    if isinstance(cause, ConnectionRefusedError):
        return (f"{host} does not accept connections on port {port}. Check the port: usually 587 with STARTTLS, "
                "or 465 with TLS, as your provider's help pages say.")
    if isinstance(cause, (TimeoutError, socket.timeout)):
        return (f"{host} did not answer on port {port}. Check the server name and the port (587 or 465), and "
                "whether a firewall or the practice network blocks outgoing mail.")
    if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"This computer cannot reach {host}: check the internet connection, then test again."
    if isinstance(cause, (ssl.SSLError, smtplib.SMTPServerDisconnected, ConnectionResetError)) \
            and not isinstance(cause, ssl.SSLCertVerificationError):
        return (f"{host} ended the connection while it was being secured. Often the security setting does not "
                f"match the port: port 465 needs TLS, port 587 needs STARTTLS. Try port {other} with the other setting.")
    if isinstance(cause, ssl.SSLCertVerificationError):
        return (f"{host} showed a certificate that is not valid for it ({cause.verify_message}). Check the server "
                "name; if your practice runs its own mail server authority, choose its certificate under "
                "Server authority.")
    message = str(exc) if isinstance(exc, UserError) else f"The connection test failed ({type(exc).__name__})."
    return message.replace(" It will be tried again.", "").replace("; it will be tried again.", ".").replace(
        "give its certificate with --cafile", "choose its certificate under Server authority")


def technical(exc: BaseException) -> str:
    cause = _cause(exc)
    lines = [f"{type(exc).__name__}: {exc}"]
    if cause is not exc:
        lines.append(f"caused by {type(cause).__name__}: {cause}")
    return "\n".join(lines)


__all__ = ["ConnectionTest", "explain", "run_connection_test"]
