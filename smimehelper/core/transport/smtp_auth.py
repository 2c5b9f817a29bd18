"""Logging in to an SMTP server inside TLS: with the password, or for a signed-in account with an
OAuth access token (SASL XOAUTH2 or OAUTHBEARER, RFC 7628), renewed once when the server refuses a
token we still thought good; never a password for a signed-in account."""

from __future__ import annotations

import smtplib

from .accounts import Account, Credential
from .oauth import sasl
from .oauth.errors import AdminConsentRequired, OAuthError, SignInRequired, explain_server_refusal
from .oauth.tokens import TokenSource
from .smtp import DeliveryError, _reply_text


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
        raise sign_in_problem(exc) from None
    except sasl.SaslError as exc:
        raise DeliveryError(f"Signing in to {account.smtp_host} is not possible: {exc}.", transient=False) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"The connection to {account.smtp_host} broke while signing in ({type(exc).__name__}). "
                            "It will be tried again.", transient=True) from None


def sign_in_problem(exc: OAuthError) -> DeliveryError:
    """A sign-in that failed, as a delivery outcome (waiting for the user, or the provider's words)."""
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
