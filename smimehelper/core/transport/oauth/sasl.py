"""The SASL messages that carry an OAuth access token to a mail server.

XOAUTH2 is what Microsoft and Google document for SMTP and IMAP; OAUTHBEARER is the standard
(RFC 7628) that Google and Dovecot also speak. Both fail the same way: the server sends a JSON
error as a challenge, the client answers with an empty (XOAUTH2) or ``%x01`` (OAUTHBEARER)
response, and the server then says no.
"""

from __future__ import annotations

import json
import re

XOAUTH2 = "XOAUTH2"
OAUTHBEARER = "OAUTHBEARER"
MECHANISMS = (XOAUTH2, OAUTHBEARER)
# RFC 6750 2.1 b64token: what a bearer token may consist of (no spaces, no control characters).
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_TOKEN_CHARS = 64 * 1024
MAX_ERROR_BYTES = 8 * 1024


class SaslError(ValueError):
    """A value that cannot travel in a SASL message (it would change the message's meaning)."""


def _check(user: str, token: str) -> None:
    if not _B64TOKEN.fullmatch(token) or len(token) > MAX_TOKEN_CHARS:
        raise SaslError("the access token from the sign-in service is not a valid bearer token")
    if not user or any(ord(c) < 0x20 or c == "\x7f" for c in user):
        raise SaslError("the user name contains control characters")


def xoauth2(user: str, token: str) -> bytes:
    """``user=<user>^Aauth=Bearer <token>^A^A`` (Google's and Microsoft's XOAUTH2)."""
    _check(user, token)
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode("utf-8")


def _saslname(user: str) -> str:
    # RFC 5801 gs2-header: "," and "=" in the authorization identity are escaped.
    return user.replace("=", "=3D").replace(",", "=2C")


def oauthbearer(user: str, token: str, host: str | None = None, port: int | None = None) -> bytes:
    """``n,a=<user>,^Ahost=..^Aport=..^Aauth=Bearer <token>^A^A`` (RFC 7628 3.1)."""
    _check(user, token)
    if host is not None and any(c in host for c in "\x01\r\n"):
        raise SaslError("the server name contains control characters")
    kvpairs = ""
    if host:
        kvpairs += f"host={host}\x01"
    if port:
        kvpairs += f"port={int(port)}\x01"
    return f"n,a={_saslname(user)},\x01{kvpairs}auth=Bearer {token}\x01\x01".encode("utf-8")


def initial_response(mechanism: str, user: str, token: str, host: str | None = None, port: int | None = None) -> bytes:
    if mechanism == XOAUTH2:
        return xoauth2(user, token)
    if mechanism == OAUTHBEARER:
        return oauthbearer(user, token, host, port)
    raise SaslError(f"unknown mechanism {mechanism}")


def abort_response(mechanism: str) -> bytes:
    """What the client answers to the server's error challenge (then the server fails the AUTH)."""
    return b"\x01" if mechanism == OAUTHBEARER else b""


def parse_error(challenge: bytes) -> dict[str, str]:
    """The server's JSON error challenge ({"status": "invalid_token", ...}), best effort."""
    if len(challenge) > MAX_ERROR_BYTES:
        return {}
    try:
        value = json.loads(challenge.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, (str, int))}


def choose(offered: set[str] | frozenset[str], preferred: str | None = None) -> str | None:
    """The mechanism to use: the configured one if offered, else XOAUTH2, else OAUTHBEARER."""
    offered = {m.upper() for m in offered}
    if preferred:
        return preferred.upper() if preferred.upper() in offered else None
    for mechanism in MECHANISMS:
        if mechanism in offered:
            return mechanism
    return None
