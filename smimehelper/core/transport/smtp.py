"""Sending over SMTP, never in clear.

STARTTLS (587) or implicit TLS (465) with the server's certificate and host name verified;
a server that does not offer STARTTLS is refused, and AUTH happens only inside TLS: with the
password, or for a signed-in account with an OAuth access token (SASL XOAUTH2 or OAUTHBEARER,
see ``smtp_auth.authenticate``) and never a password for such an account. The
message is streamed from its file (dot-stuffed on the fly) so a 500 MB study never sits in
memory, and one connection can carry many messages.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import UserError
from .accounts import Account, Credential
from .oauth.errors import OAuthError
from .oauth.tokens import TokenSource

CHUNK = 1 << 20
TIMEOUT_SECONDS = 60
# RFC 5321 4.5.3.2.6: wait at least 10 minutes for the answer to the end of the data (a server may
# scan a large study first); giving up earlier would make us send it again while it is accepted.
FINAL_REPLY_TIMEOUT_SECONDS = 600
SEND_PIECE = 64 * 1024  # each piece must leave within the timeout, even on a slow line
MAX_REPLY_LINE = 2048  # RFC 5321 4.5.3.1.5 allows 512 octets per reply line
MAX_REPLY_LINES = 100
QUIT_TIMEOUT_SECONDS = 5


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


class AnswerLost(DeliveryError):
    """The whole message went out and no 2xx answer came back: the server may or may not have
    taken it. Sent again later with the same Message-ID (RFC 5321 4.5.4.1), like an MTA does."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(
            f"The mail server {where} did not confirm the message after receiving all of it ({reason}). "
            "It stays in the outbox and is sent again later with the same Message-ID; if the server "
            "had taken it after all, the recipient gets it twice.",
            transient=True,
        )


class _Garbage(Exception):
    """The server answered something that is not an SMTP reply; the text says what, in words."""

    @classmethod
    def sample(cls, raw: bytes | str, what: str = "which is not SMTP") -> _Garbage:
        text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        return cls(f"it answered {printable_reply(text.rstrip())!r}, {what}")


def envelope_address_problem(address: str) -> str | None:
    """Why ``address`` cannot go into MAIL FROM / RCPT TO (RFC 5321 4.1.2, 4.5.3.1), or None."""
    if not address or "@" not in address:
        return "it is not an e-mail address"
    if len(address.encode("utf-8")) > 254:
        return "it is longer than mail servers accept"
    if any(ord(c) < 0x21 or c in '<>\x7f' or c.isspace() for c in address):
        return "it contains spaces, line breaks, control characters or angle brackets"
    return None


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 1_000_000 else f"{max(1, round(count / 1e3))} KB"


def printable_reply(text: str) -> str:
    """A server's bytes as safe text: printable ASCII only (no terminal escapes), 80 at most."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:80]


def _broken(exc: BaseException, timeout: float) -> str:
    """Why a connection broke, in words."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"no answer or progress for {timeout:g} seconds"
    if isinstance(exc, ssl.SSLError):
        return f"encrypted connection error: {exc.reason or exc}"
    if isinstance(exc, smtplib.SMTPServerDisconnected) or isinstance(exc, (ConnectionError, EOFError)):
        return "the server closed the connection"
    return exc.strerror or type(exc).__name__ if isinstance(exc, OSError) else str(exc)


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

    def __init__(self, account: Account, password: Credential, timeout: float = TIMEOUT_SECONDS) -> None:
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
        if isinstance(self.password, TokenSource):
            try:  # before connecting: a sign-in in the browser may take minutes, servers do not wait
                self.password.current()
            except OAuthError as exc:
                from .smtp_auth import sign_in_problem

                raise sign_in_problem(exc) from None
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
        from .smtp_auth import authenticate  # here: smtp_auth uses this module's errors

        try:
            authenticate(smtp, account, self.password)
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp

    @property
    def size_limit(self) -> int | None:
        if self._smtp is None or not self._smtp.has_extn("size"):
            return None
        value = self._smtp.esmtp_features.get("size", "").strip()
        return int(value) if value.isdigit() and int(value) > 0 else None

    final_reply_timeout: float = FINAL_REPLY_TIMEOUT_SECONDS  # per session: tests shorten it

    def send(self, message: Path, envelope_from: str, recipients: Sequence[str]) -> str:
        """Send one message; returns the server's 2xx answer to the end of the data, the only
        thing that means "sent" (RFC 5321 4.5.4.1: the server now owns the message).

        Anything else raises DeliveryError: a 5xx answer (``transient`` False: the server's
        words say why), a 4xx answer or a connection that broke, stalled or spoke garbage before
        the whole message was sent (``transient``: nothing was delivered, try again later), or
        AnswerLost when the whole message went out and no 2xx answer came back (it may or may
        not have been accepted: like an MTA we send it again later, a rare duplicate is better
        than a lost referral). Every wait has a time limit, so a stalled server cannot hang us.
        """
        for address in (envelope_from, *recipients):
            problem = envelope_address_problem(address)
            if problem:
                raise DeliveryError(f"The message cannot be sent to or from {address!r}: {problem}.", transient=False)
        if self._smtp is None:
            self.connect()
        smtp = self._smtp
        assert smtp is not None
        where = f"{self.account.smtp_host}:{self.account.smtp_port}"
        size = message.stat().st_size
        limit = self.size_limit
        if limit is not None and size > limit:
            raise MessageTooLarge(
                f"The message is {_size(size)}, but this mail server accepts at most "
                f"{_size(limit)}. Send fewer or smaller files per message."
            )
        options = f" SIZE={size}" if smtp.has_extn("size") else ""
        if any(not a.isascii() for a in (envelope_from, *recipients)):
            if not smtp.has_extn("smtputf8"):
                raise DeliveryError(
                    f"The mail server {where} does not accept international (non-ASCII) addresses "
                    "(no SMTPUTF8). Use the ASCII form of the address if there is one.", transient=False)
            options += " SMTPUTF8"
        stage = "start"
        try:
            self._expect(self._command(f"MAIL FROM:<{envelope_from}>{options}"), "the sender address")
            refusals = []
            for rcpt in recipients:
                code, text = self._command(f"RCPT TO:<{rcpt}>")
                if 200 <= code < 300:
                    continue
                if not 400 <= code < 600:
                    raise _Garbage.sample(text, "where RCPT needs 2xx, 4xx or 5xx")
                refusals.append((code, rcpt, text))
            if refusals:
                self._reset()
                code, rcpt, text = refusals[0]
                transient = code < 500
                raise DeliveryError(f"The mail server refused the recipient {rcpt}: {text}"
                                    + (". It will be tried again." if transient else ""), transient=transient, reply=text)
            self._expect(self._command("DATA"), "the message", expected=354)
            stage = "data"
            self._stream(message)
            stage = "answer"
            code, text = self._read_reply(self.final_reply_timeout)
        except _Garbage as exc:
            self._drop()
            detail = str(exc)
            if stage == "answer":
                raise AnswerLost(where, detail) from None
            raise DeliveryError(f"The mail server {where} did not speak SMTP properly ({detail}). Nothing was "
                                "delivered; it will be tried again.", transient=True) from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            reason = _broken(exc, self.final_reply_timeout if stage == "answer" else self.timeout)
            if stage == "answer":
                raise AnswerLost(where, reason) from None
            during = "while the message was being sent" if stage == "data" else "before the message was sent"
            raise DeliveryError(f"The connection to the mail server {where} broke {during} ({reason}). Nothing "
                                "was delivered; it will be tried again.", transient=True) from None
        if 200 <= code < 300:
            return text
        if 400 <= code < 500:
            raise DeliveryError(f"The mail server did not take the message for now: {text}. It will be tried again.",
                                transient=True, reply=text)
        if 500 <= code < 600:
            raise DeliveryError(f"The mail server rejected the message: {text}", transient=False, reply=text)
        self._drop()  # 1xx/3xx to the end of the data: no answer we can trust
        raise AnswerLost(where, str(_Garbage.sample(text, "which is not an answer to a message")))

    def _expect(self, reply: tuple[int, str], what: str, expected: int = 250) -> None:
        """A 2xx (or ``expected``) answer, else a DeliveryError with the server's words."""
        code, text = reply
        if (200 <= code < 300 and expected == 250) or code == expected:
            return
        if not 400 <= code < 600:  # a 2xx where 354 belongs, 1xx, 3xx: the server is confused
            raise _Garbage.sample(text, f"where {expected} belongs")
        self._reset()
        if code < 500:
            raise DeliveryError(f"The mail server did not take {what} for now: {text}. It will be tried again.", transient=True, reply=text)
        raise DeliveryError(f"The mail server rejected {what}: {text}", transient=False, reply=text)

    def _command(self, line: str) -> tuple[int, str]:
        if any(c in line for c in "\r\n\0"):
            raise DeliveryError("An address contains a line break; nothing was sent.", transient=False)
        self._write(line.encode("utf-8") + b"\r\n")
        return self._read_reply(self.timeout)

    def _write(self, data: bytes) -> None:
        smtp = self._smtp
        if smtp is None or smtp.sock is None:
            raise smtplib.SMTPServerDisconnected("not connected")
        view = memoryview(data)
        for start in range(0, len(view), SEND_PIECE):  # the socket timeout bounds each piece
            smtp.sock.sendall(view[start:start + SEND_PIECE])

    def _read_reply(self, timeout: float) -> tuple[int, str]:
        """One reply (all its lines), bounded in time, line length and line count, so that a
        server sending garbage or an endless reply cannot hang us or fill the memory."""
        smtp = self._smtp
        if smtp is None or smtp.sock is None:
            raise smtplib.SMTPServerDisconnected("not connected")
        smtp.sock.settimeout(timeout)
        try:
            if smtp.file is None:
                smtp.file = smtp.sock.makefile("rb")
            deadline = time.monotonic() + timeout
            code: bytes | None = None
            texts: list[str] = []
            for _ in range(MAX_REPLY_LINES):
                line = smtp.file.readline(MAX_REPLY_LINE + 1)
                if not line:
                    raise smtplib.SMTPServerDisconnected("the server closed the connection")
                if len(line) > MAX_REPLY_LINE or not line.endswith(b"\n"):
                    raise _Garbage.sample(line[:80], f"a line longer than {MAX_REPLY_LINE} bytes")
                head, sep = line[:3], line[3:4]
                if not head.isdigit() or sep not in (b" ", b"-", b"\r", b"\n") or (code is not None and head != code):
                    raise _Garbage.sample(line[:80])
                code = head
                texts.append(line[4:].decode("utf-8", "replace").strip())
                if sep != b"-":
                    return int(code), _reply_text(int(code), " ".join(texts))
                if time.monotonic() > deadline:
                    raise TimeoutError("the server's answer did not end in time")
            raise _Garbage(f"its answer went on for more than {MAX_REPLY_LINES} lines")
        finally:
            if smtp.sock is not None:
                smtp.sock.settimeout(self.timeout)

    def _reset(self) -> None:
        """RSET after a refusal, so the connection can carry the next message; else drop it."""
        try:
            code, _ = self._command("RSET")
            if not 200 <= code < 300:
                self._drop()
        except (smtplib.SMTPException, OSError, DeliveryError, _Garbage):
            self._drop()

    def _drop(self) -> None:
        """Close a connection that can no longer be trusted; the next message reconnects."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def _stream(self, message: Path) -> None:
        """The message file, dot-stuffed (RFC 5321 4.5.2), then the end-of-data line."""
        at_line_start = True
        last = b"\n"
        with open(message, "rb") as handle:
            while chunk := handle.read(CHUNK):
                stuffed = chunk.replace(b"\n.", b"\n..")
                if at_line_start and stuffed.startswith(b"."):
                    stuffed = b"." + stuffed
                self._write(stuffed)
                at_line_start = chunk.endswith(b"\n")
                last = chunk[-1:]
        self._write(b".\r\n" if last == b"\n" else b"\r\n.\r\n")

    def close(self) -> None:
        """QUIT politely, but never wait long for a server's goodbye: the work is done."""
        if self._smtp is not None:
            try:
                if self._smtp.sock is not None:
                    self._smtp.sock.settimeout(QUIT_TIMEOUT_SECONDS)
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def abort(self) -> None:
        """Close at once without QUIT (after Ctrl-C: the server may be the thing that hangs)."""
        self._drop()
