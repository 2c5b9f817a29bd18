"""Copies into the user's own mailbox over IMAP: the Sent folder after sending. TLS (993) or
STARTTLS (143) only, certificate checked.

The folder is found by its RFC 6154 SPECIAL-USE flag (\\Sent), else by the names the big
providers and mail programs use. There is deliberately no Drafts hand-off: mail programs
re-compose a draft, and the real Thunderbird then sent it in clear or empty (issue 10,
core/handoff).
"""

from __future__ import annotations

import imaplib
import re
import ssl
import time
from pathlib import Path

from ..errors import UserError
from .accounts import Account, Credential
from .imap_client import BoundedIMAP4, BoundedIMAP4_SSL
from .oauth import sasl
from .oauth.errors import OAuthError, explain_server_refusal
from .oauth.tokens import TokenSource
from .smtp import tls_context

FALLBACK_NAMES = {
    "\\Sent": ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "[Gmail]/Sent Mail", "INBOX.Sent", "Gesendet", "Gesendete Elemente"),
}
_LIST_LINE = re.compile(rb'\((?P<flags>[^)]*)\) (?:"(?P<delim>[^"]*)"|NIL) (?P<name>.+)$')


class ImapError(UserError):
    pass


def connect(account: Account, password: Credential) -> imaplib.IMAP4:
    if not account.imap_host:
        raise ImapError(f"No IMAP server is set up for {account.email}; add one with 'smimehelper account add ... --imap-host HOST'.")
    context = tls_context(account)
    where = f"{account.imap_host}:{account.imap_port}"
    if isinstance(password, TokenSource):
        try:  # before connecting: a sign-in in the browser may take minutes, servers do not wait
            password.current()
        except OAuthError as exc:
            raise ImapError(str(exc)) from None
    try:
        if account.imap_security == "starttls":
            conn: imaplib.IMAP4 = BoundedIMAP4(account.imap_host, account.imap_port or 143, timeout=60)
            if "STARTTLS" not in conn.capabilities:
                conn.shutdown()
                raise ImapError(f"The IMAP server {where} does not offer STARTTLS; smimehelper never logs in unencrypted.")
            conn.starttls(ssl_context=context)
        else:
            conn = BoundedIMAP4_SSL(account.imap_host, account.imap_port or 993, ssl_context=context, timeout=60)
    except ssl.SSLCertVerificationError as exc:
        raise ImapError(f"The IMAP server {where} presented a certificate that is not valid for it ({exc.verify_message}).") from None
    except ssl.SSLError as exc:
        raise ImapError(f"The encrypted connection to the IMAP server {where} failed ({exc.reason}); smimehelper never "
                        "reads or stores mail unencrypted. Check the IMAP port and security (993 with TLS, 143 with STARTTLS).") from None
    except (OSError, imaplib.IMAP4.error) as exc:
        if isinstance(exc, ImapError):
            raise
        raise ImapError(f"Cannot reach the IMAP server {where}: {exc}.") from None
    try:
        login(conn, account, password)
    except BaseException:
        try:
            conn.shutdown()
        except OSError:
            pass
        raise
    return conn


def login(conn: imaplib.IMAP4, account: Account, credential: Credential) -> None:
    """Log in on an encrypted connection: AUTHENTICATE XOAUTH2/OAUTHBEARER with an access token for
    a signed-in account (a refused cached token is renewed once), else LOGIN with the password."""
    if account.uses_oauth or isinstance(credential, TokenSource):
        if not isinstance(credential, TokenSource):
            raise ImapError(f"{account.email} signs in with its provider, and no sign-in was at hand. Sign in again: "
                            f"smimehelper account signin --email {account.email}.")
        _oauth_login(conn, account, credential)
        return
    if credential is None:
        raise ImapError(f"The password for {account.username} is needed for IMAP.")
    try:
        conn.login(account.username, credential.decode("utf-8"))
    except imaplib.IMAP4.error as exc:
        raise ImapError(f"The IMAP server refused the login for {account.username}: {exc}.") from None


def _oauth_login(conn: imaplib.IMAP4, account: Account, tokens: TokenSource) -> None:
    offered = {c[5:] for c in conn.capabilities if c.upper().startswith("AUTH=")}
    mechanism = sasl.choose(offered, account.sasl)
    if mechanism is None:
        raise ImapError(f"The IMAP server {account.imap_host} does not offer sign-in with an access token "
                        f"({account.sasl or 'XOAUTH2 or OAUTHBEARER'}).")
    try:
        token = tokens.current()
        for attempt in range(2):
            payload = sasl.initial_response(mechanism, account.username, token.value, account.imap_host, account.imap_port)
            state = {"sent": False}

            def respond(challenge: bytes) -> bytes:
                if not state["sent"]:
                    state["sent"] = True
                    return payload
                return sasl.abort_response(mechanism)  # the server's JSON error: end the exchange

            try:
                conn.authenticate(mechanism, respond)
                return
            except imaplib.IMAP4.abort as exc:
                raise ImapError(f"The IMAP server {account.imap_host} closed the connection while signing in ({exc}).") from None
            except imaplib.IMAP4.error as exc:
                if attempt == 0 and not token.fresh:
                    token = tokens.renew(refused=token.value)
                    continue
                raise ImapError(explain_server_refusal(str(exc), email=account.email, provider_name=tokens.provider_name())) from None
    except OAuthError as exc:
        raise ImapError(str(exc)) from None
    except sasl.SaslError as exc:
        raise ImapError(f"Signing in to {account.imap_host} is not possible: {exc}.") from None
    except OSError as exc:
        raise ImapError(f"The connection to {account.imap_host} broke while signing in ({type(exc).__name__}).") from None


def find_folder(conn: imaplib.IMAP4, use: str) -> str:
    """The folder flagged ``use`` (\\Sent), else one with a usual name."""
    status, lines = conn.list()
    if status != "OK":
        raise ImapError("The IMAP server did not list its folders.")
    names: list[tuple[str, str]] = []
    for raw in lines:
        if not isinstance(raw, bytes):
            continue
        match = _LIST_LINE.match(raw)
        if not match:
            continue
        name = match.group("name").strip()
        if name.startswith(b'"') and name.endswith(b'"'):
            name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
        names.append((match.group("flags").decode("ascii", "replace"), name.decode("utf-8", "replace")))
    for flags, name in names:
        if use.lower() in flags.lower().split():
            return name
    by_name = {name.lower(): name for _, name in names}
    for candidate in FALLBACK_NAMES[use]:
        if candidate.lower() in by_name:
            return by_name[candidate.lower()]
    raise ImapError(f"The mailbox has no {use[1:]} folder (none flagged {use}, none with a usual name).")


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def append(account: Account, password: Credential, use: str, message: Path) -> str:
    """Append ``message`` to the \\Sent folder; returns the folder name."""
    data = message.read_bytes()
    conn = connect(account, password)
    try:
        folder = find_folder(conn, use)
        status, response = conn.append(_quote(folder), "(\\Seen)", imaplib.Time2Internaldate(time.time()), data)
        if status != "OK":
            raise ImapError(f"The IMAP server did not store the copy in {folder}: {response}.")
        return folder
    except imaplib.IMAP4.error as exc:
        raise ImapError(f"The IMAP server did not store the copy: {exc}.") from None
    finally:
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
