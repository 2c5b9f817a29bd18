"""Sending over SMTP, never in clear.

STARTTLS (587) or implicit TLS (465) with the server's certificate and host name verified;
a server that does not offer STARTTLS is refused, and AUTH happens only inside TLS. The
message is streamed from its file (dot-stuffed on the fly) so a 500 MB study never sits in
memory, and one connection can carry many messages.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import UserError
from .accounts import Account

CHUNK = 1 << 20
TIMEOUT_SECONDS = 60


class DeliveryError(UserError):
    """Sending did not succeed; ``transient`` says whether trying again later may help."""

    def __init__(self, message: str, *, transient: bool, reply: str = "") -> None:
        super().__init__(message)
        self.transient = transient
        self.reply = reply


class TransportSecurityError(DeliveryError):
    """The connection could not be made secure: nothing was sent (the message stays queued)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)


class MessageTooLarge(DeliveryError):
    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


def tls_context(account: Account) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if account.cafile:
        context.load_verify_locations(cafile=account.cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _reply_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}".strip()


class SmtpSession:
    """An encrypted, authenticated SMTP connection; use as a context manager."""

    def __init__(self, account: Account, password: bytes | None, timeout: float = TIMEOUT_SECONDS) -> None:
        self.account = account
        self.password = password
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSession:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        account = self.account
        where = f"{account.smtp_host}:{account.smtp_port}"
        context = tls_context(account)
        try:
            if account.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(account.smtp_host, account.smtp_port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(account.smtp_host, account.smtp_port, timeout=self.timeout)
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    smtp.close()
                    raise TransportSecurityError(
                        f"The mail server {where} does not offer an encrypted connection (STARTTLS). "
                        "smimehelper never sends over an unencrypted connection; check the server "
                        "settings of your account (port 587 with STARTTLS, or 465 with TLS)."
                    )
                smtp.starttls(context=context)
            smtp.ehlo()
        except ssl.SSLCertVerificationError as exc:
            raise TransportSecurityError(
                f"The mail server {where} presented a certificate that is not valid for it "
                f"({exc.verify_message}). Nothing was sent. Check the server name; if your "
                "provider uses its own authority, give its certificate with --cafile."
            ) from None
        except ssl.SSLError as exc:
            raise TransportSecurityError(f"The encrypted connection to {where} failed ({exc.reason}). Nothing was sent.") from None
        except (OSError, smtplib.SMTPException) as exc:
            if isinstance(exc, DeliveryError):
                raise
            raise DeliveryError(f"Cannot reach the mail server {where}: {exc}. It will be tried again.", transient=True) from None
        if self.password:
            try:
                smtp.login(account.username, self.password.decode("utf-8"))
            except smtplib.SMTPAuthenticationError as exc:
                smtp.close()
                raise DeliveryError(
                    f"The mail server refused the user name or password for {account.username} "
                    f"({_reply_text(exc.smtp_code, exc.smtp_error)}). Check the password (many "
                    "providers need an app password).", transient=False, reply=_reply_text(exc.smtp_code, exc.smtp_error),
                ) from None
            except (OSError, smtplib.SMTPException) as exc:
                smtp.close()
                raise DeliveryError(f"Logging in to {where} failed: {exc}.", transient=True) from None
        self._smtp = smtp

    @property
    def size_limit(self) -> int | None:
        if self._smtp is None or not self._smtp.has_extn("size"):
            return None
        value = self._smtp.esmtp_features.get("size", "").strip()
        return int(value) if value.isdigit() and int(value) > 0 else None

    def send(
        self,
        message: Path,
        envelope_from: str,
        recipients: Sequence[str],
        *,
        on_handed_over: Callable[[], None] | None = None,
    ) -> str:
        """Send one message; returns the server's reply. ``on_handed_over`` runs after the last
        byte and before the server's answer (the only moment a crash leaves the outcome open)."""
        if self._smtp is None:
            self.connect()
        smtp = self._smtp
        assert smtp is not None
        size = message.stat().st_size
        limit = self.size_limit
        if limit is not None and size > limit:
            raise MessageTooLarge(
                f"The message is {size / 1e6:.1f} MB, but this mail server accepts at most "
                f"{limit / 1e6:.1f} MB. Send fewer or smaller files per message."
            )
        try:
            options = [f"SIZE={size}"] if limit is not None or smtp.has_extn("size") else []
            code, reply = smtp.mail(envelope_from, options)
            self._check(code, reply, "the sender address")
            accepted = 0
            refusals = []
            for rcpt in recipients:
                code, reply = smtp.rcpt(rcpt)
                if code in (250, 251):
                    accepted += 1
                else:
                    refusals.append((code, rcpt, _reply_text(code, reply)))
            if refusals:
                smtp.rset()
                code, rcpt, text = refusals[0]
                raise DeliveryError(f"The mail server refused the recipient {rcpt}: {text}", transient=400 <= code < 500, reply=text)
            code, reply = smtp.docmd("DATA")
            self._check(code, reply, "the message", expected=354)
            self._stream(message)
            if on_handed_over is not None:
                on_handed_over()
            code, reply = smtp.getreply()
            self._check(code, reply, "the message")
            return _reply_text(code, reply)
        except smtplib.SMTPServerDisconnected:
            self._smtp = None
            raise DeliveryError("The mail server closed the connection before accepting the message. It will be tried again.", transient=True) from None
        except (OSError, socket.timeout) as exc:
            self._smtp = None
            raise DeliveryError(f"The connection to the mail server broke ({exc}). It will be tried again.", transient=True) from None

    def _check(self, code: int, reply: bytes, what: str, expected: int = 250) -> None:
        if code == expected or (expected == 250 and code == 251):
            return
        text = _reply_text(code, reply)
        if self._smtp is not None and code != -1:
            try:
                self._smtp.rset()
            except (smtplib.SMTPException, OSError):
                self._smtp = None
        if 400 <= code < 500:
            raise DeliveryError(f"The mail server did not take {what} for now: {text}. It will be tried again.", transient=True, reply=text)
        raise DeliveryError(f"The mail server rejected {what}: {text}", transient=False, reply=text)

    def _stream(self, message: Path) -> None:
        """The message file, dot-stuffed (RFC 5321 4.5.2), then the end-of-data line."""
        smtp = self._smtp
        assert smtp is not None
        at_line_start = True
        last = b"\n"
        with open(message, "rb") as handle:
            while chunk := handle.read(CHUNK):
                stuffed = chunk.replace(b"\n.", b"\n..")
                if at_line_start and stuffed.startswith(b"."):
                    stuffed = b"." + stuffed
                smtp.send(stuffed)
                at_line_start = chunk.endswith(b"\n")
                last = chunk[-1:]
        smtp.send(b".\r\n" if last == b"\n" else b"\r\n.\r\n")

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None
