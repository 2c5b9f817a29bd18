"""Sending over SMTP, never in clear.

STARTTLS (587) or implicit TLS (465) with the server's certificate and host name verified;
a server that does not offer STARTTLS is refused, and AUTH happens only inside TLS: with the
password, or for a signed-in account with an OAuth access token (SASL XOAUTH2 or OAUTHBEARER,
see ``authenticate``) and never a password for such an account. The
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
from .accounts import Account, Credential
from .oauth import sasl
from .oauth.errors import AdminConsentRequired, OAuthError, SignInRequired, explain_server_refusal
from .oauth.tokens import TokenSource

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


def authenticate(smtp: smtplib.SMTP, account: Account, credential: Credential) -> None:
    """Log in on an encrypted connection (after EHLO): OAuth for a signed-in account, else the
    password if there is one. Raises DeliveryError with a plain sentence."""
    where = f"{account.smtp_host}:{account.smtp_port}"
    if account.uses_oauth or isinstance(credential, TokenSource):
        if not isinstance(credential, TokenSource):
            raise DeliveryError(
                f"{account.email} signs in with its provider, and no sign-in was at hand. Sign in again: "
                f"smimehelper account signin --email {account.email}.", transient=False,
            )
        _oauth_login(smtp, account, credential)
        return
    if not credential:
        return
    try:
        smtp.login(account.username, credential.decode("utf-8"))
    except smtplib.SMTPAuthenticationError as exc:
        reply = _reply_text(exc.smtp_code, exc.smtp_error)
        if "basic authentication is disabled" in reply.lower() or "smtpclientauthentication is disabled" in reply.lower():
            raise DeliveryError(explain_server_refusal(reply, email=account.email, provider_name="Microsoft"),
                                transient=False, reply=reply) from None
        raise DeliveryError(
            f"The mail server refused the user name or password for {account.username} "
            f"({reply}). Check the password (many providers need an app password).", transient=False, reply=reply,
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"Logging in to {where} failed: {exc}.", transient=True) from None


def _oauth_login(smtp: smtplib.SMTP, account: Account, tokens: TokenSource) -> None:
    """AUTH XOAUTH2 / OAUTHBEARER with the access token; a refused cached token is renewed once."""
    offered = set(smtp.esmtp_features.get("auth", "").upper().split())
    mechanism = sasl.choose(offered, account.sasl)
    if mechanism is None:
        wanted = account.sasl or "XOAUTH2 or OAUTHBEARER"
        raise DeliveryError(
            f"The mail server {account.smtp_host} does not offer sign-in with an access token ({wanted}); it offers "
            f"{', '.join(sorted(offered)) or 'no log-in at all'}. Check the server settings of {account.email}.",
            transient=False,
        )
    try:
        token = tokens.current()
        for attempt in range(2):
            code, reply = _sasl_exchange(smtp, mechanism, account, token.value)
            if code == 235:
                return
            text = _reply_text(code, reply)
            if attempt == 0 and not token.fresh and code in (334, 535, 454):
                token = tokens.renew(refused=token.value)  # expired or withdrawn early: renew once
                continue
            if 400 <= code < 500:
                raise DeliveryError(f"The mail server could not check the sign-in of {account.email} just now ({text}). "
                                    "It will be tried again.", transient=True, reply=text)
            message = explain_server_refusal(text, email=account.email, provider_name=tokens.provider_name())
            raise DeliveryError(message, transient=False, reply=text)
    except OAuthError as exc:
        raise _sign_in_problem(exc) from None
    except sasl.SaslError as exc:
        raise DeliveryError(f"Signing in to {account.smtp_host} is not possible: {exc}.", transient=False) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"The connection to {account.smtp_host} broke while signing in ({type(exc).__name__}). "
                            "It will be tried again.", transient=True) from None


def _sign_in_problem(exc: OAuthError) -> DeliveryError:
    if isinstance(exc, (SignInRequired, AdminConsentRequired)):  # waits for the user (or admin), then goes out
        return DeliveryError(f"{exc} The message waits in the outbox until then.", transient=True)
    return DeliveryError(str(exc), transient=exc.transient)


def _sasl_exchange(smtp: smtplib.SMTP, mechanism: str, account: Account, token: str) -> tuple[int, bytes]:
    """One AUTH exchange; the server's error challenge (334 + JSON) is answered as the SASL
    mechanism says, and the final reply returned."""
    import base64

    payload = sasl.initial_response(mechanism, account.username, token, account.smtp_host, account.smtp_port)
    code, reply = smtp.docmd("AUTH", f"{mechanism} {base64.b64encode(payload).decode('ascii')}")
    if code == 334:
        try:
            challenge = base64.b64decode(reply, validate=False)
        except ValueError:
            challenge = b""
        detail = sasl.parse_error(challenge)
        code, reply = smtp.docmd(base64.b64encode(sasl.abort_response(mechanism)).decode("ascii"))
        if detail.get("status") and code != 235:
            reply = reply + f" ({detail['status']})".encode()
    return code, reply


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
                raise _sign_in_problem(exc) from None
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
