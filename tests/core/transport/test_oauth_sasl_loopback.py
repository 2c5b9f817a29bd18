"""SASL messages (RFC 7628, XOAUTH2) and the loopback redirect listener (RFC 8252), attacked.

The listener is judged by real HTTP clients over real sockets; the sign-in flow by the answers a
provider sends back (error, wrong issuer, no code). The real provider is in
tests/transport/test_oauth_signin.py.
"""

from __future__ import annotations

import base64
import http.client
import socket
import threading
import time
import urllib.parse

import pytest

from smimehelper.core.transport.oauth import flow, sasl
from smimehelper.core.transport.oauth.errors import AdminConsentRequired, OAuthError, SignInCancelled
from smimehelper.core.transport.oauth.loopback import LoopbackReceiver
from smimehelper.core.transport.oauth.providers import OAuthProvider, microsoft


def test_oauthbearer_is_byte_exact_rfc7628_example() -> None:
    # RFC 7628 section 4.1, the example's client response (host, port, token as given there).
    got = sasl.oauthbearer("user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "server.example.com", 143)
    assert got == b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"


def test_xoauth2_is_what_google_and_microsoft_document() -> None:
    assert sasl.xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg") == (
        b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg\x01\x01"
    )


def test_gs2_name_escapes_comma_and_equals() -> None:
    assert sasl.oauthbearer("a,b=c@x.org", "tok").startswith(b"n,a=a=2Cb=3Dc@x.org,\x01")


@pytest.mark.parametrize("token", ["has space", "line\r\nbreak", "ctl\x01char", "", "x" * (sasl.MAX_TOKEN_CHARS + 1), "uml\u00e4ut"])
def test_a_token_that_would_change_the_message_is_refused(token: str) -> None:
    with pytest.raises(sasl.SaslError):
        sasl.xoauth2("u@example.org", token)
    with pytest.raises(sasl.SaslError):
        sasl.oauthbearer("u@example.org", token)


@pytest.mark.parametrize("user", ["a\x01b@x.org", "a\r\nb@x.org", ""])
def test_a_user_with_control_characters_is_refused(user: str) -> None:
    with pytest.raises(sasl.SaslError):
        sasl.xoauth2(user, "token")


def test_mechanism_choice() -> None:
    assert sasl.choose({"PLAIN", "XOAUTH2", "OAUTHBEARER"}) == "XOAUTH2"
    assert sasl.choose({"OAUTHBEARER"}) == "OAUTHBEARER"
    assert sasl.choose({"PLAIN", "LOGIN"}) is None  # never a password instead
    assert sasl.choose({"XOAUTH2", "OAUTHBEARER"}, "OAUTHBEARER") == "OAUTHBEARER"
    assert sasl.choose({"XOAUTH2"}, "OAUTHBEARER") is None


def test_error_challenge_parsing_is_bounded() -> None:
    assert sasl.parse_error(b'{"status":"invalid_token","scope":"x"}')["status"] == "invalid_token"
    assert sasl.parse_error(b"\xff garbage") == {}
    assert sasl.parse_error(b"[1,2]") == {}
    assert sasl.parse_error(b'{"status":"' + b"x" * 10000 + b'"}') == {}


# --------------------------------------------------------------------------- loopback listener


def _get(port: int, target: str, host: str = "127.0.0.1") -> tuple[int, str]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _wait_in_thread(receiver: LoopbackReceiver, state: str, timeout: float = 20, cancel: threading.Event | None = None):
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["answer"] = receiver.wait(state, timeout, cancel)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_listener_takes_only_the_answer_with_our_state() -> None:
    with LoopbackReceiver() as receiver:
        assert receiver.redirect_uri == f"http://127.0.0.1:{receiver.port}/"
        thread, result = _wait_in_thread(receiver, "the-state")
        assert _get(receiver.port, "/?code=evil&state=other")[0] == 400  # another program's guess
        assert _get(receiver.port, "/favicon.ico")[0] == 404
        assert _get(receiver.port, "/?code=c1&code=c2&state=the-state")[0] == 400  # repeated: ignored
        status, page = _get(receiver.port, "/?code=good&state=the-state")
        thread.join(10)
        assert status == 200 and "signed in" in page.lower()
        assert result["answer"].params == {"code": "good", "state": "the-state"}  # type: ignore[union-attr]


def test_listener_is_only_on_loopback() -> None:
    with LoopbackReceiver() as receiver:
        addresses = [s.getsockname()[0] for s in receiver._sockets]
        assert addresses and all(a in ("127.0.0.1", "::1") for a in addresses)


def test_stalled_flooding_and_odd_clients_do_not_block_the_answer() -> None:
    with LoopbackReceiver() as receiver:
        thread, result = _wait_in_thread(receiver, "s")
        stalled = socket.create_connection(("127.0.0.1", receiver.port))  # says nothing
        flood = socket.create_connection(("127.0.0.1", receiver.port))
        try:
            flood.sendall(b"GET /?" + b"a" * 40000)
        except OSError:
            pass
        raw = socket.create_connection(("127.0.0.1", receiver.port))
        raw.sendall(b"POST /?code=x&state=s HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        status, _ = _get(receiver.port, "/?code=ok&state=s")
        thread.join(20)
        assert status == 200 and result["answer"].params["code"] == "ok"  # type: ignore[union-attr]
        assert time.monotonic() - started < 16  # each bad client costs at most a few seconds
        for sock in (stalled, flood, raw):
            sock.close()


def test_listener_gives_up_after_its_time_and_on_cancel() -> None:
    with LoopbackReceiver() as receiver:
        with pytest.raises(SignInCancelled, match="did not finish"):
            receiver.wait("s", 0.5)
    cancel = threading.Event()
    with LoopbackReceiver() as receiver:
        thread, result = _wait_in_thread(receiver, "s", timeout=60, cancel=cancel)
        cancel.set()
        thread.join(5)
        assert isinstance(result["error"], SignInCancelled)
    with socket.socket() as probe:  # the port is closed afterwards
        assert probe.connect_ex(("127.0.0.1", receiver.port)) != 0


def test_localhost_template_for_entra_id_listens_on_both_families() -> None:
    with LoopbackReceiver("http://localhost:{port}") as receiver:
        assert receiver.redirect_uri == f"http://localhost:{receiver.port}"
        thread, result = _wait_in_thread(receiver, "s")
        assert _get(receiver.port, "/?code=ok&state=s", host="localhost")[0] == 200
        thread.join(10)
        assert result["answer"].params["code"] == "ok"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- flow answers


def _unreachable_provider(**kw: object) -> OAuthProvider:
    # The token endpoint is a closed port: these tests end before any token request.
    values: dict[str, object] = dict(key="custom", name="Test IdP", authorization_endpoint="https://127.0.0.1:9/authorize",
                                     token_endpoint="https://127.0.0.1:9/token", scopes=("openid", "mail"), client_id="cid",
                                     issuer="https://idp.example")
    values.update(kw)
    return OAuthProvider(**values)  # type: ignore[arg-type]


def _answer_with(extra: dict[str, str]):
    """An open_browser that plays the provider: sends the browser back with ``extra``."""
    seen: dict[str, str] = {}

    def open_browser(url: str) -> bool:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        seen.update(query)
        redirect = query["redirect_uri"]
        params = {"state": query["state"], **extra}

        def go() -> None:
            parts = urllib.parse.urlsplit(redirect)
            _get(parts.port, (parts.path or "/") + "?" + urllib.parse.urlencode(params), host=parts.hostname)

        threading.Thread(target=go).start()
        return True

    return open_browser, seen


def test_authorization_request_for_microsoft() -> None:
    open_browser, seen = _answer_with({"error": "access_denied", "error_description": "AADSTS65004: User declined to consent."})
    with pytest.raises(SignInCancelled):
        flow.sign_in(microsoft("11111111-2222-3333-4444-555555555555"), "dr@praxis.example", open_browser=open_browser, timeout=20)
    assert seen["redirect_uri"].startswith("http://localhost:") and not seen["redirect_uri"].endswith("/")
    assert seen["code_challenge_method"] == "S256" and len(seen["code_challenge"]) == 43
    assert seen["scope"].split() == ["https://outlook.office.com/SMTP.Send", "https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"]
    assert seen["login_hint"] == "dr@praxis.example" and seen["response_type"] == "code"
    assert "client_secret" not in seen


def test_admin_consent_answer_gets_a_plain_message() -> None:
    description = ("AADSTS65001: The user or administrator has not consented to use the application with ID "
                   "'11111111-2222-3333-4444-555555555555' named 'smimehelper'. Send an interactive authorization request for this user and resource.")
    open_browser, _ = _answer_with({"error": "consent_required", "error_description": description})
    with pytest.raises(AdminConsentRequired, match="administrator") as info:
        flow.sign_in(_unreachable_provider(), "dr@praxis.example", open_browser=open_browser, timeout=20)
    assert "AADSTS65001" in info.value.detail and "AADSTS" not in str(info.value)


def test_an_answer_from_another_issuer_is_refused() -> None:
    open_browser, _ = _answer_with({"code": "stolen", "iss": "https://evil.example"})
    with pytest.raises(OAuthError, match="refused"):
        flow.sign_in(_unreachable_provider(), "dr@praxis.example", open_browser=open_browser, timeout=20)


def test_an_answer_without_code_is_refused() -> None:
    open_browser, _ = _answer_with({})
    with pytest.raises(OAuthError, match="without a sign-in code"):
        flow.sign_in(_unreachable_provider(), "dr@praxis.example", open_browser=open_browser, timeout=20)


def test_no_browser_and_nowhere_to_show_the_address() -> None:
    with pytest.raises(SignInCancelled, match="No web browser"):
        flow.sign_in(_unreachable_provider(), "dr@praxis.example", open_browser=lambda url: False, timeout=5)


def test_state_and_verifier_are_fresh_each_time() -> None:
    states, challenges = set(), set()
    for _ in range(3):
        open_browser, seen = _answer_with({"error": "access_denied"})
        with pytest.raises(SignInCancelled):
            flow.sign_in(_unreachable_provider(), "dr@praxis.example", open_browser=open_browser, timeout=20)
        states.add(seen["state"])
        challenges.add(seen["code_challenge"])
    assert len(states) == 3 and len(challenges) == 3
    assert all(len(base64.urlsafe_b64decode(s + "==")) >= 16 for s in states)
