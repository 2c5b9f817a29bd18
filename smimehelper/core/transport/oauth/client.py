"""The token endpoint: a code for tokens, and their renewal (RFC 6749, RFC 7636), via Authlib.

Why Authlib (with requests): one well-kept, standards-first client for every provider. MSAL for
Python was the other candidate: it knows Microsoft best, but its generic OIDC authority (tried,
MSAL 1.39) refuses an issuer without a path segment ("should consist of an https url with
hostname and a minimum of one segment in a path"), which rules out Google's issuer
https://accounts.google.com and our test provider; its public client cannot send the
non-confidential secret Google's token endpoint wants for desktop apps, it keeps its own token
cache (access and ID tokens too, where we keep only the refresh token, in the keyring) and its
interactive call owns the browser and the loopback listener, leaving no place for a cancel button
or for our checks of ``state`` and ``iss``. requests-oauthlib wraps the older oauthlib and adds
nothing here. Authlib does PKCE (S256), client authentication "none" for a public client, and
parses error answers; we add the timeouts, the size limits and the plain-language errors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .errors import OAuthError, ProviderUnreachable, explain_token_error
from .providers import OAuthProvider

HTTP_TIMEOUT = 30
DEFAULT_LIFETIME = 3600  # when the answer gives no expires_in


@dataclass(frozen=True)
class TokenSet:
    """What a successful token request gave. Never logged: the tokens are hidden from repr."""

    access_token: str = field(repr=False)
    expires_at: float  # time.time() seconds
    refresh_token: str | None = field(default=None, repr=False)
    scope: str = ""


def session(provider: OAuthProvider, redirect_uri: str | None = None):  # type: ignore[no-untyped-def]
    from authlib.integrations.requests_client import OAuth2Session

    client = OAuth2Session(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        token_endpoint_auth_method="client_secret_post" if provider.client_secret else "none",
        scope=" ".join(provider.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    client.verify = provider.cafile or True
    client.trust_env = False  # no .netrc credentials or proxy variables slipped into sign-in requests
    client.max_redirects = 0
    return client


def _token_set(token: dict[str, Any], previous_refresh: str | None, provider: OAuthProvider, email: str) -> TokenSet:
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise ProviderUnreachable(f"{provider.name} answered the sign-in without an access token. It will be tried again.")
    try:
        lifetime = float(token.get("expires_in", DEFAULT_LIFETIME))
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME
    refresh = token.get("refresh_token") if isinstance(token.get("refresh_token"), str) else None
    return TokenSet(access, time.time() + max(0.0, min(lifetime, 24 * 3600)), refresh or previous_refresh, str(token.get("scope", "")))


def _call(provider: OAuthProvider, email: str, action: str, func: Any, *args: Any, **kwargs: Any) -> Any:
    import requests
    from authlib.integrations.base_client.errors import OAuthError as AuthlibOAuthError

    try:
        return func(*args, timeout=HTTP_TIMEOUT, **kwargs)
    except AuthlibOAuthError as exc:
        raise explain_token_error(str(exc.error or ""), str(exc.description or ""), provider_name=provider.name,
                                  email=email, client_id=provider.client_id) from None
    except requests.exceptions.SSLError:
        raise ProviderUnreachable(f"The sign-in service of {provider.name} presented a certificate that is not valid for it; "
                                  "nothing was sent. It will be tried again.") from None
    except requests.exceptions.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        body = _error_body(exc.response)
        if body.get("error"):
            raise explain_token_error(body["error"], body.get("error_description", ""), provider_name=provider.name,
                                      email=email, client_id=provider.client_id) from None
        if 500 <= status < 600 or status == 429:
            raise ProviderUnreachable(f"{provider.name}'s sign-in service is not available right now (HTTP {status}). It will be tried again.") from None
        raise OAuthError(f"{provider.name} answered {action} with HTTP {status}. Check the sign-in settings of {email}.") from None
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnreachable(f"Cannot reach the sign-in service of {provider.name} ({type(exc).__name__}). "
                                  "It will be tried again.") from None


def _error_body(response: Any) -> dict[str, str]:
    try:
        data = response.json() if response is not None and len(response.content) < 65536 else {}
    except ValueError:
        return {}
    return {k: str(v) for k, v in data.items() if isinstance(k, str)} if isinstance(data, dict) else {}


def exchange_code(provider: OAuthProvider, *, code: str, code_verifier: str, redirect_uri: str, email: str) -> TokenSet:
    with session(provider, redirect_uri) as client:
        token = _call(provider, email, "the sign-in", client.fetch_token, provider.token_endpoint,
                      grant_type="authorization_code", code=code, code_verifier=code_verifier)
    return _token_set(token, None, provider, email)


def refresh(provider: OAuthProvider, refresh_token: str, *, email: str) -> TokenSet:
    with session(provider) as client:
        token = _call(provider, email, "the renewal of the sign-in", client.refresh_token, provider.token_endpoint,
                      refresh_token=refresh_token)
    return _token_set(token, refresh_token, provider, email)
