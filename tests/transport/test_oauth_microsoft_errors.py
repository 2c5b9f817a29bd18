"""What users of Microsoft 365 meet, in plain words: judged against servers that send Microsoft's
own replies over real TLS on 127.0.0.1.

- SMTP: aiosmtpd with STARTTLS whose AUTH answers exactly as Exchange Online does ("535 5.7.139
  Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant ...", "...
  basic authentication is disabled", and "535 5.7.3" for a refused token).
- Token endpoint: an HTTPS server answering with Entra ID's JSON errors (AADSTS65001 consent
  required, invalid_grant AADSTS70008 / AADSTS50173, 5xx, garbage).
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from smimehelper.core.transport.accounts import AccountStore, make_account
from smimehelper.core.transport.oauth import client
from smimehelper.core.transport.oauth.client import TokenSet
from smimehelper.core.transport.oauth.errors import AdminConsentRequired, ProviderUnreachable, SignInRequired
from smimehelper.core.transport.oauth.providers import OAuthProvider
from smimehelper.core.transport.smtp import DeliveryError, SmtpSession
from tests.transport.oauth_servers import MemorySecrets as _Secrets
from tests.transport.servers import HOST, TlsMaterials

SMTP_AUTH_DISABLED = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
                      "Visit https://aka.ms/smtp_auth_disabled for more information. [AM0PR04CA0000.eurprd04.prod.outlook.com]")
BASIC_AUTH_DISABLED = "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [DB8PR09CA0000.eurprd09.prod.outlook.com]"
TOKEN_REFUSED = "535 5.7.3 Authentication unsuccessful [BN9PR03CA0000.namprd03.prod.outlook.com]"
CONSENT_REQUIRED = {
    "error": "invalid_grant",
    "error_description": "AADSTS65001: The user or administrator has not consented to use the application with ID "
                         "'11111111-2222-3333-4444-555555555555' named 'smimehelper'. Send an interactive authorization "
                         "request for this user and resource. Trace ID: 0 Correlation ID: 0 Timestamp: 2026-12-01 10:00:00Z",
    "error_codes": [65001],
}
EXPIRED_GRANT = {
    "error": "invalid_grant",
    "error_description": "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.",
    "error_codes": [70008],
}
PASSWORD_CHANGED = {"error": "invalid_grant", "error_description": "AADSTS50173: The provided grant has expired due to it being revoked."}


class ExchangeLikeHandler:
    """AUTH as Exchange Online answers it; ``replies`` are used in turn, the last one repeats."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.tokens: list[str] = []
        self.mechanisms: list[str] = []
        self.received: list[bytes] = []

    def _next(self) -> str:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        raw = base64.b64decode(args[1]) if len(args) > 1 else b""
        self.mechanisms.append("XOAUTH2")
        self.tokens.append(raw.split(b"auth=Bearer ", 1)[-1].rstrip(b"\x01").decode())
        reply = self._next()
        return AuthResult(success=reply.startswith("235"), message=reply, handled=False)

    async def auth_LOGIN(self, server: Any, args: list[str]) -> AuthResult:
        self.mechanisms.append("LOGIN")
        return AuthResult(success=False, message=BASIC_AUTH_DISABLED, handled=False)

    async def auth_PLAIN(self, server: Any, args: list[str]) -> AuthResult:
        self.mechanisms.append("PLAIN")
        return AuthResult(success=False, message=BASIC_AUTH_DISABLED, handled=False)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.original_content)
        return "250 2.6.0 Queued mail for delivery"


@pytest.fixture
def exchange(tls_materials: TlsMaterials) -> Iterator[Any]:
    servers: list[Controller] = []

    def start(replies: list[str]) -> tuple[ExchangeLikeHandler, int]:
        handler = ExchangeLikeHandler(list(replies))
        import socket

        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]
        controller = Controller(handler, hostname=HOST, port=port, tls_context=tls_materials.server_context(),
                                require_starttls=True, auth_require_tls=True, decode_data=False)
        controller.start()
        servers.append(controller)
        return handler, port

    yield start
    for controller in servers:
        controller.stop()


def _account(port: int, tls: TlsMaterials, **kw: Any):  # type: ignore[no-untyped-def]
    return make_account("dr@praxis.example", smtp_host=HOST, smtp_port=port, security="starttls", cafile=str(tls.cafile),
                        provider="microsoft", oauth_client_id="11111111-2222-3333-4444-555555555555", **kw)


def _signed_in_store(tmp_path: Path, email: str, access: str = "cached-token", lifetime: float = 3000) -> AccountStore:
    store = AccountStore(tmp_path, _Secrets())
    store.tokens.save(email, TokenSet(access, time.time() + lifetime, "refresh-token-1"))
    return store


def test_smtp_auth_disabled_for_the_tenant_says_what_the_admin_must_switch_on(exchange: Any, tls_materials: TlsMaterials, tmp_path: Path) -> None:
    handler, port = exchange([SMTP_AUTH_DISABLED])
    account = _account(port, tls_materials)
    store = _signed_in_store(tmp_path, account.email, lifetime=3000)
    renewals: list[str] = []
    source = store.token_source(account)
    source.renew = lambda refused=None: renewals.append(refused) or type(source.current())("fresh-token", True)  # type: ignore[method-assign]
    with pytest.raises(DeliveryError) as info:
        SmtpSession(account, source, timeout=10).connect()
    message = str(info.value)
    assert "Authenticated SMTP" in message and "administrator" in message and "5.7.139" in message
    assert not info.value.transient  # trying again later will not help
    assert handler.mechanisms == ["XOAUTH2", "XOAUTH2"]  # the cached token was renewed once, then the refusal stands
    assert renewals == ["cached-token"] and handler.tokens == ["cached-token", "fresh-token"]


def test_password_account_at_microsoft_is_told_to_sign_in_instead(exchange: Any, tls_materials: TlsMaterials) -> None:
    handler, port = exchange([BASIC_AUTH_DISABLED])
    account = _account(port, tls_materials, auth="password")
    with pytest.raises(DeliveryError) as info:
        SmtpSession(account, b"app-password", timeout=10).connect()
    assert "--oauth" in str(info.value) and "no longer accepts passwords" in str(info.value)
    assert "XOAUTH2" not in handler.mechanisms


def test_signed_in_account_never_falls_back_to_a_password(exchange: Any, tls_materials: TlsMaterials, tmp_path: Path) -> None:
    handler, port = exchange([TOKEN_REFUSED])
    account = _account(port, tls_materials)
    store = _signed_in_store(tmp_path, account.email, access="fresh-from-sign-in")
    store.secrets.put(f"account:{account.email}", b"an-old-password")  # left over from before
    credential = store.credential(account, ask_password=lambda a: pytest.fail("a password was asked for"))
    source = store.token_source(account)
    assert type(credential) is type(source)
    credential.renew = lambda refused=None: pytest.fail("refresh not expected")  # type: ignore[union-attr, method-assign]
    credential.current = lambda: type(source.current())("fresh-from-sign-in", True)  # type: ignore[union-attr, method-assign]
    with pytest.raises(DeliveryError, match="sign in again|Sign in again"):
        SmtpSession(account, credential, timeout=10).connect()
    assert handler.mechanisms == ["XOAUTH2"]  # not PLAIN or LOGIN, though the server offers them
    # A bytes password handed in for such an account is refused too, never sent.
    with pytest.raises(DeliveryError, match="signs in with its provider"):
        SmtpSession(account, b"an-old-password", timeout=10).connect()
    assert handler.mechanisms == ["XOAUTH2"]


def test_accepted_token_sends(exchange: Any, tls_materials: TlsMaterials, tmp_path: Path) -> None:
    handler, port = exchange(["235 2.7.0 Authentication successful"])
    account = _account(port, tls_materials)
    store = _signed_in_store(tmp_path, account.email)
    message = tmp_path / "m.eml"
    message.write_bytes(b"From: dr@praxis.example\r\nTo: a@b.example\r\nSubject: x\r\n\r\nbody\r\n")
    with SmtpSession(account, store.token_source(account), timeout=10) as session:
        assert session.send(message, account.email, ["a@b.example"]).startswith("250")
    assert handler.received == [message.read_bytes()]


# --------------------------------------------------------------------------- token endpoint


class _TokenEndpoint(http.server.BaseHTTPRequestHandler):
    answer: tuple[int, bytes] = (200, b"{}")
    requests: list[dict[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        from urllib.parse import parse_qsl

        type(self).requests.append(dict(parse_qsl(self.rfile.read(length).decode())))
        status, body = type(self).answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def token_endpoint(tls_materials: TlsMaterials) -> Iterator[tuple[OAuthProvider, type[_TokenEndpoint]]]:
    handler = type("Handler", (_TokenEndpoint,), {"requests": []})
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    server.socket = tls_materials.server_context().wrap_socket(server.socket, server_side=True)
    server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]  # clients that hang up
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    provider = OAuthProvider(key="microsoft", name="Microsoft", authorization_endpoint=f"https://{HOST}:{port}/authorize",
                             token_endpoint=f"https://{HOST}:{port}/token", scopes=("https://outlook.office.com/SMTP.Send", "offline_access"),
                             client_id="11111111-2222-3333-4444-555555555555", cafile=str(tls_materials.cafile))
    yield provider, handler
    server.shutdown()
    server.server_close()


def test_consent_required_on_refresh(token_endpoint: Any) -> None:
    provider, handler = token_endpoint
    handler.answer = (400, json.dumps(CONSENT_REQUIRED).encode())
    with pytest.raises(AdminConsentRequired) as info:
        client.refresh(provider, "rt", email="dr@praxis.example")
    assert "administrator" in str(info.value) and provider.client_id in str(info.value)
    assert "AADSTS65001" in info.value.detail
    assert handler.requests[0]["grant_type"] == "refresh_token" and "client_secret" not in handler.requests[0]
    assert handler.requests[0]["client_id"] == provider.client_id


@pytest.mark.parametrize("body", [EXPIRED_GRANT, PASSWORD_CHANGED, {"error": "invalid_grant"}])
def test_invalid_grant_means_sign_in_again(token_endpoint: Any, body: dict[str, Any]) -> None:
    provider, handler = token_endpoint
    handler.answer = (400, json.dumps(body).encode())
    with pytest.raises(SignInRequired, match="account signin --email dr@praxis.example"):
        client.refresh(provider, "rt", email="dr@praxis.example")


@pytest.mark.parametrize("answer", [(503, b"<html>Service Unavailable</html>"), (200, b"not json"), (200, b'{"token_type":"Bearer"}')])
def test_broken_answers_are_transient(token_endpoint: Any, answer: tuple[int, bytes]) -> None:
    provider, handler = token_endpoint
    handler.answer = answer
    with pytest.raises(ProviderUnreachable) as info:
        client.refresh(provider, "rt", email="dr@praxis.example")
    assert info.value.transient


def test_rotated_refresh_token_is_kept_and_a_missing_one_keeps_the_old(token_endpoint: Any) -> None:
    provider, handler = token_endpoint
    handler.answer = (200, b'{"access_token":"at-1","token_type":"Bearer","expires_in":3599,"refresh_token":"rt-2"}')
    assert client.refresh(provider, "rt-1", email="x@y.example").refresh_token == "rt-2"
    handler.answer = (200, b'{"access_token":"at-2","token_type":"Bearer","expires_in":3599}')  # Google leaves it out
    renewed = client.refresh(provider, "rt-2", email="x@y.example")
    assert renewed.refresh_token == "rt-2" and renewed.access_token == "at-2"
    assert "rt-2" not in repr(renewed) and "at-2" not in repr(renewed)


def test_revoked_sign_in_is_forgotten_and_reported(token_endpoint: Any, tmp_path: Path, tls_materials: TlsMaterials) -> None:
    provider, handler = token_endpoint
    handler.answer = (400, json.dumps(EXPIRED_GRANT).encode())
    store = AccountStore(tmp_path, _Secrets())
    store.tokens.save("dr@praxis.example", TokenSet("old", time.time() - 10, "revoked-rt"))
    from smimehelper.core.transport.oauth.tokens import TokenSource

    source = TokenSource("dr@praxis.example", lambda: provider, store.tokens, sign_in=None)
    with pytest.raises(SignInRequired):
        source.current()
    assert store.tokens.refresh_token("dr@praxis.example") is None  # not tried again and again


# --------------------------------------------------------------------------- servers that stall, drop or lie


def test_token_endpoint_that_stalls_is_transient(token_endpoint: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    provider, handler = token_endpoint
    monkeypatch.setattr(client, "HTTP_TIMEOUT", 1)
    original = handler.do_POST

    def slow(self: Any) -> None:
        time.sleep(3)
        original(self)

    handler.do_POST = slow
    handler.answer = (200, b'{"access_token":"late","token_type":"Bearer"}')
    started = time.monotonic()
    with pytest.raises(ProviderUnreachable, match="It will be tried again"):
        client.refresh(provider, "rt", email="dr@praxis.example")
    assert time.monotonic() - started < 2.5


def test_token_endpoint_with_a_wrong_certificate_is_refused(token_endpoint: Any) -> None:
    provider, handler = token_endpoint
    from dataclasses import replace

    handler.answer = (200, b'{"access_token":"x","token_type":"Bearer"}')
    with pytest.raises(ProviderUnreachable, match="certificate"):
        client.refresh(replace(provider, cafile=None), "rt", email="dr@praxis.example")  # the system CAs do not know the test CA
    assert handler.requests == []  # nothing (no refresh token) reached the impostor


def test_smtp_server_dropping_during_auth_is_transient(exchange: Any, tls_materials: TlsMaterials, tmp_path: Path) -> None:
    handler, port = exchange(["235 2.7.0 Authentication successful"])

    async def drop(server: Any, args: list[str]) -> None:
        server.transport.close()
        return None

    handler.auth_XOAUTH2 = drop  # type: ignore[method-assign]
    account = _account(port, tls_materials)
    store = _signed_in_store(tmp_path, account.email)
    with pytest.raises(DeliveryError) as info:
        SmtpSession(account, store.token_source(account), timeout=10).connect()
    assert info.value.transient and "tried again" in str(info.value)


def test_a_data_folder_that_cannot_hold_the_lock_is_explained(tmp_path: Path) -> None:
    from smimehelper.core.transport.oauth.errors import OAuthError
    from smimehelper.core.transport.oauth.tokens import TokenStore

    blocked = tmp_path / "home"
    blocked.write_text("a file where the data folder should be")
    store = TokenStore(blocked, _Secrets())
    with pytest.raises(OAuthError, match="cannot write in its data folder"):
        with store.renewal_lock("dr@praxis.example"):
            pass
