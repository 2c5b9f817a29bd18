"""What goes wrong when signing in, in plain words, and what to do about it.

The identity platforms answer with codes ("invalid_grant", "AADSTS65001: The user or administrator
has not consented ...") and the mail servers with SMTP replies ("535 5.7.139 Authentication
unsuccessful, SmtpClientAuthentication is disabled for the Tenant"). Users meet a handful of them;
each gets a sentence here. Messages never contain a token.
"""

from __future__ import annotations

import re

from ...errors import UserError


class OAuthError(UserError):
    """Signing in or refreshing the sign-in failed; ``transient`` says whether later may work."""

    transient = False

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail  # the provider's own words, for "Details"


class SignInRequired(OAuthError):
    """No valid sign-in: never signed in, signed out, withdrawn (revoked) or expired.

    The only way on is to sign in again in the browser; never a password prompt."""


class SignInCancelled(OAuthError):
    """The user closed or denied the sign-in page, or it timed out."""


class AdminConsentRequired(OAuthError):
    """The organisation's administrator must approve the app once (Microsoft AADSTS65001 & co.)."""


class ProviderUnreachable(OAuthError):
    """The sign-in service could not be reached or answered nonsense: try again later."""

    transient = True


class ProviderConfigError(OAuthError):
    """The sign-in settings are incomplete or wrong (no client ID, a bad issuer URL, ...)."""


_AADSTS = re.compile(r"AADSTS(\d+)")
_ADMIN_CONSENT_CODES = {"65001", "90094", "90095", "900941"}
_SIGN_IN_AGAIN_CODES = {"50173", "70008", "700082", "50076", "50079", "50078", "700084", "54005", "70043"}
_DECLINED_CODES = {"65004"}


def sign_in_again_hint(email: str) -> str:
    return f"Sign in again: smimehelper account signin --email {email} (or 'Sign in' in the app)."


def explain_token_error(error: str, description: str, *, provider_name: str, email: str, client_id: str) -> OAuthError:
    """The exception for an error answer of the token endpoint (RFC 6749 5.2)."""
    detail = f"{error}: {description}".strip(": ")
    codes = set(_AADSTS.findall(description or ""))
    if codes & _ADMIN_CONSENT_CODES or error == "consent_required":
        return AdminConsentRequired(
            f"Your organisation has not yet allowed smimehelper to send mail for you at {provider_name}. "
            f"An administrator of your Microsoft 365 (or Google Workspace) must approve it once: "
            f"'Grant admin consent' for the app with the ID {client_id}. Then sign in again.",
            detail=detail,
        )
    if codes & _DECLINED_CODES or error == "access_denied":
        return SignInCancelled(f"The sign-in at {provider_name} was declined, so {email} cannot send yet. {sign_in_again_hint(email)}", detail=detail)
    if "700016" in codes or error == "unauthorized_client" or error == "invalid_client":
        return ProviderConfigError(
            f"{provider_name} does not know the sign-in app with the ID {client_id} (or it is not set up as a "
            "public client for desktop apps). Check the client ID with your IT; docs/security.md explains "
            "how to register one.", detail=detail,
        )
    if "7000218" in codes:
        return ProviderConfigError(
            f"The sign-in app {client_id} is registered at {provider_name} as a web app that needs a secret. "
            "Your IT must turn on 'Allow public client flows' for it (smimehelper never ships a secret).",
            detail=detail,
        )
    if error == "invalid_grant" or codes & _SIGN_IN_AGAIN_CODES:
        return SignInRequired(
            f"Your sign-in for {email} at {provider_name} has expired or was withdrawn. {sign_in_again_hint(email)}",
            detail=detail,
        )
    if error in ("temporarily_unavailable", "server_error"):
        return ProviderUnreachable(f"{provider_name}'s sign-in service is not available right now ({error}). It will be tried again.", detail=detail)
    return OAuthError(f"{provider_name} refused the sign-in for {email} ({error}). {sign_in_again_hint(email)}", detail=detail)


def explain_server_refusal(reply: str, *, email: str, provider_name: str) -> str:
    """A sentence for a mail server's answer to AUTH XOAUTH2/OAUTHBEARER (Microsoft's 5.7.139 family)."""
    text = " ".join(reply.split())
    lowered = text.lower()
    if "smtpclientauthentication is disabled" in lowered or "smtp_auth_disabled" in lowered:
        return (
            f"Microsoft 365 has sending from mail programs (\"Authenticated SMTP\") switched off for {email} "
            "or for your whole organisation, so smimehelper cannot send through it. Your administrator can "
            "switch it on for your mailbox (Microsoft 365 admin center > Users > your name > Mail > Manage "
            f"email apps > Authenticated SMTP). The server said: {text}"
        )
    if "basic authentication is disabled" in lowered:
        return (
            f"Microsoft no longer accepts passwords for {email}. Set the account up with sign-in instead: "
            f"smimehelper account add --email {email} --oauth. The server said: {text}"
        )
    if "5.7.139" in text or "5.7.3" in text or "5.7.8" in text or "invalid_token" in lowered or "invalid credentials" in lowered:
        return (
            f"The mail server did not accept the sign-in of {email} from {provider_name} ({text}). "
            f"{sign_in_again_hint(email)} If it keeps failing, your administrator may have to allow "
            "this mailbox to send from mail programs."
        )
    return f"The mail server refused the sign-in of {email} ({text}). {sign_in_again_hint(email)}"
