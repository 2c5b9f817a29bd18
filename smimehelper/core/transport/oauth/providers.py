"""Where and how to sign in: the identity platforms of the big mail providers, or any other.

A provider is endpoints + scopes + the app's client ID. The client ID is configuration, never
code a user cannot change: a practice's IT registers its own app (Entra ID "Mobile and desktop
applications", redirect URI ``http://localhost``, public client flows allowed; Google Cloud
"Desktop app") and gives its ID with ``--oauth-client-id``. smimehelper ships no client secret:
it is a public client (RFC 8252) protected by PKCE. Google hands desktop clients a "secret" that
it documents as not confidential but still wants at its token endpoint; that value, if IT gives
one, is account configuration like the client ID.

Any other OAuth 2.0 / OpenID provider (a practice's own Keycloak next to its Dovecot, say) is
used through its issuer URL and the metadata it publishes (RFC 8414 / OpenID Discovery).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from .errors import ProviderConfigError, ProviderUnreachable

DISCOVERY_TIMEOUT = 20
MAX_METADATA_BYTES = 1 << 20


@dataclass(frozen=True)
class OAuthProvider:
    key: str  # "microsoft" | "google" | "custom"
    name: str  # shown to the user: "Microsoft", "Google", or the issuer's host
    authorization_endpoint: str
    token_endpoint: str
    scopes: tuple[str, ...]
    client_id: str
    client_secret: str | None = None  # only the non-confidential one Google gives desktop apps
    issuer: str | None = None  # checked against the "iss" of the answer (RFC 9207) when sent
    revocation_endpoint: str | None = None
    redirect_host: str = "127.0.0.1"  # RFC 8252 7.3; Entra ID registrations say "localhost"
    extra_authorize_params: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    cafile: str | None = None  # a private CA for a custom provider; the big ones use the default


# Scopes: one Outlook token serves SMTP and IMAP (same resource); offline_access brings the
# refresh token. Google's one scope covers SMTP and IMAP; access_type=offline brings the refresh
# token and prompt=consent makes Google send it again on a repeated sign-in.
MICROSOFT_SCOPES = (
    "https://outlook.office.com/SMTP.Send",
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "offline_access",
)
GOOGLE_SCOPES = ("https://mail.google.com/",)
CUSTOM_SCOPES = ("openid", "offline_access")

DEFAULT_CLIENT_IDS: dict[str, str | None] = {
    # The IDs of smimehelper's own registrations go here once the project has made them (see
    # docs/security.md, "Sign-in with Microsoft and Google"). Until then IT gives one per account.
    "microsoft": None,
    "google": None,
}
DEFAULT_MICROSOFT_TENANT = "common"  # work/school and personal (Outlook.com) accounts


def _check_https(url: str, what: str) -> str:
    """Endpoints are HTTPS; plain HTTP only to this computer's loopback (a local test provider)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname:
        try:
            if parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname).is_loopback:
                return url
        except ValueError:
            pass
    raise ProviderConfigError(f"The {what} {url!r} is not an https:// address; smimehelper signs in only over HTTPS.")


def microsoft(client_id: str, tenant: str | None = None) -> OAuthProvider:
    tenant = tenant or DEFAULT_MICROSOFT_TENANT
    if not tenant.replace("-", "").replace(".", "").isalnum():
        raise ProviderConfigError(f"{tenant!r} is not a Microsoft tenant (a domain like praxis.onmicrosoft.com, a GUID, or 'common').")
    base = f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0"
    return OAuthProvider(
        key="microsoft", name="Microsoft", authorization_endpoint=f"{base}/authorize", token_endpoint=f"{base}/token",
        scopes=MICROSOFT_SCOPES, client_id=client_id, redirect_host="localhost",
        issuer=None,  # the v2.0 issuer depends on the user's tenant; Entra ID does not send "iss"
    )


def google(client_id: str, client_secret: str | None = None) -> OAuthProvider:
    return OAuthProvider(
        key="google", name="Google", authorization_endpoint="https://accounts.google.com/o/oauth2/v2/auth",
        token_endpoint="https://oauth2.googleapis.com/token", scopes=GOOGLE_SCOPES, client_id=client_id,
        client_secret=client_secret, issuer="https://accounts.google.com", revocation_endpoint="https://oauth2.googleapis.com/revoke",
        extra_authorize_params=(("access_type", "offline"), ("prompt", "consent")),
    )


def discover(issuer: str, client_id: str, *, scopes: tuple[str, ...] | None = None, cafile: str | None = None,
             client_secret: str | None = None) -> OAuthProvider:
    """A provider from its published metadata: OpenID Discovery, else RFC 8414."""
    import requests

    issuer = _check_https(issuer.rstrip("/"), "sign-in address (issuer)")
    host = urlsplit(issuer).hostname or issuer
    metadata = None
    last_problem = ""
    for suffix in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        try:
            with requests.get(issuer + suffix, timeout=DISCOVERY_TIMEOUT, verify=cafile or True, stream=True,
                              allow_redirects=False) as response:
                body = response.raw.read(MAX_METADATA_BYTES + 1, decode_content=True)
                if response.status_code != 200:
                    last_problem = f"HTTP {response.status_code}"
                    continue
        except requests.exceptions.SSLError:
            raise ProviderUnreachable(f"The sign-in service {host} presented a certificate that is not valid for it.") from None
        except requests.RequestException as exc:
            raise ProviderUnreachable(f"Cannot reach the sign-in service {host} ({type(exc).__name__}). It will be tried again.") from None
        if len(body) > MAX_METADATA_BYTES:
            raise ProviderConfigError(f"The sign-in service {host} sent far too much data as its settings.")
        try:
            metadata = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            last_problem = "not JSON"
            continue
        if isinstance(metadata, dict):
            break
        metadata = None
    if metadata is None:
        raise ProviderConfigError(f"{issuer} does not publish sign-in settings (OpenID or OAuth metadata: {last_problem}). Check the address.")
    if metadata.get("issuer", "").rstrip("/") != issuer:
        raise ProviderConfigError(f"The sign-in settings at {issuer} name another issuer ({metadata.get('issuer')!r}); refusing them.")
    try:
        authorize = _check_https(str(metadata["authorization_endpoint"]), "authorization address")
        token = _check_https(str(metadata["token_endpoint"]), "token address")
    except KeyError as exc:
        raise ProviderConfigError(f"The sign-in settings of {issuer} lack {exc.args[0]}.") from None
    methods = metadata.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise ProviderConfigError(f"{issuer} does not support PKCE (S256), which smimehelper requires.")
    revocation = metadata.get("revocation_endpoint")
    return OAuthProvider(
        key="custom", name=host, authorization_endpoint=authorize, token_endpoint=token,
        scopes=tuple(scopes) if scopes else CUSTOM_SCOPES, client_id=client_id, client_secret=client_secret,
        issuer=issuer, revocation_endpoint=_check_https(str(revocation), "revocation address") if revocation else None,
        extra_authorize_params=(("prompt", "consent"),), cafile=cafile,
    )


def with_scopes(provider: OAuthProvider, scopes: tuple[str, ...]) -> OAuthProvider:
    return replace(provider, scopes=scopes)
