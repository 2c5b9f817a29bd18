"""Signing in: the provider's own page in the system browser, the answer on a loopback port.

The authorization code flow with PKCE (RFC 7636, S256) for a native app (RFC 8252): smimehelper
never sees the password or the second factor, only the code the provider sends back to
``http://127.0.0.1:<port>/`` (``http://localhost:<port>`` for Entra ID), which it trades for
tokens. ``state`` ties the answer to this sign-in; where the provider names itself in the answer
(``iss``, RFC 9207) it must be the one we asked.
"""

from __future__ import annotations

import secrets
import threading
import webbrowser
from collections.abc import Callable

from .client import TokenSet, exchange_code, session
from .errors import OAuthError, SignInCancelled, explain_token_error
from .loopback import LoopbackReceiver
from .providers import OAuthProvider

SIGN_IN_SECONDS = 300.0

OpenBrowser = Callable[[str], bool]


def redirect_template(provider: OAuthProvider) -> str:
    if provider.redirect_host == "localhost":
        return "http://localhost:{port}"
    return "http://127.0.0.1:{port}/"


def sign_in(
    provider: OAuthProvider,
    email: str,
    *,
    open_browser: OpenBrowser = webbrowser.open,
    show_url: Callable[[str], None] | None = None,
    timeout: float = SIGN_IN_SECONDS,
    cancel: threading.Event | None = None,
) -> TokenSet:
    """Run one sign-in for ``email`` and return its tokens (the refresh token included)."""
    with LoopbackReceiver(redirect_template(provider)) as receiver:
        verifier = secrets.token_urlsafe(64)
        state = secrets.token_urlsafe(24)
        with session(provider, receiver.redirect_uri) as client:
            url, _ = client.create_authorization_url(
                provider.authorization_endpoint, state=state, code_verifier=verifier, login_hint=email,
                **dict(provider.extra_authorize_params),
            )
        if show_url is not None:
            show_url(url)
        try:
            opened = open_browser(url)
        except Exception:  # a broken browser setting must not end the sign-in: the URL is shown
            opened = False
        if not opened and show_url is None:
            raise SignInCancelled(f"No web browser could be opened for the sign-in at {provider.name}.")
        answer = receiver.wait(state, timeout, cancel).params
    if "error" in answer:
        error = answer.get("error", "")
        description = answer.get("error_description", "")
        if error == "access_denied" and "AADSTS" not in description:
            raise SignInCancelled(f"The sign-in at {provider.name} was cancelled or declined, so {email} cannot send yet.",
                                  detail=f"{error}: {description}")
        raise explain_token_error(error, description, provider_name=provider.name, email=email, client_id=provider.client_id)
    if provider.issuer and "iss" in answer and answer["iss"].rstrip("/") != provider.issuer.rstrip("/"):
        raise OAuthError(f"The sign-in answer came from {answer['iss']!r}, not from {provider.name}; it was refused.")
    code = answer.get("code")
    if not code:
        raise OAuthError(f"{provider.name} sent the browser back without a sign-in code. Try again.")
    return exchange_code(provider, code=code, code_verifier=verifier, redirect_uri=receiver.redirect_uri, email=email)
