"""Mail accounts: where to send from, how to log in, and the provider presets.

Two ways to log in: a password, or signing in with the provider (OAuth 2.0: Microsoft 365 /
Outlook.com and Gmail by default, where passwords are going or gone). Neither secret is in the
account file: passwords and the sign-in's refresh token live in the OS keyring when a secure one
exists; otherwise a password is asked for (or read with --password-file) each time and a sign-in
lasts for the session. The account file holds only configuration (servers, the sign-in app's
client ID).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from ..errors import UserError
from ..jsonstore import read_document, save_document
from ..secrets import SecretStore
from .oauth.tokens import SignIn, TokenSource, TokenStore

if TYPE_CHECKING:
    from .oauth.providers import OAuthProvider

SCHEMA = 1
DEFAULT_SIZE_LIMIT = 25 * 1000 * 1000


class AccountError(UserError):
    pass


@dataclass(frozen=True)
class Preset:
    name: str
    smtp_host: str
    smtp_port: int
    security: str
    imap_host: str
    imap_port: int
    imap_security: str
    size_limit: int
    saves_sent_copy: bool  # the provider files sent mail itself (Gmail): no IMAP append to Sent
    note: str
    oauth: str | None = None  # the sign-in provider used by default ("microsoft", "google")


PRESETS: dict[str, Preset] = {
    "gmail": Preset("Gmail", "smtp.gmail.com", 587, "starttls", "imap.gmail.com", 993, "tls", 25_000_000, True,
                    "You sign in with Google in your browser. An app password works too (Google account > "
                    "Security > 2-Step Verification > App passwords).", oauth="google"),
    "microsoft": Preset("Microsoft 365 / Outlook.com", "smtp.office365.com", 587, "starttls", "outlook.office365.com", 993, "tls", 35_000_000, False,
                        "You sign in with Microsoft in your browser; Microsoft 365 no longer takes passwords for "
                        "sending. Your organisation must allow Authenticated SMTP for the mailbox.", oauth="microsoft"),
    "icloud": Preset("iCloud Mail", "smtp.mail.me.com", 587, "starttls", "imap.mail.me.com", 993, "tls", 20_000_000, False,
                     "iCloud needs an app-specific password (appleid.apple.com > Sign-In and Security)."),
    "fastmail": Preset("Fastmail", "smtp.fastmail.com", 465, "tls", "imap.fastmail.com", 993, "tls", 70_000_000, False,
                       "Fastmail needs an app password (Settings > Privacy & Security > App passwords)."),
    "yahoo": Preset("Yahoo Mail", "smtp.mail.yahoo.com", 465, "tls", "imap.mail.yahoo.com", 993, "tls", 25_000_000, False,
                    "Yahoo needs an app password (Account Security > Generate app password)."),
}
_DOMAINS = {
    "gmail.com": "gmail", "googlemail.com": "gmail",
    "outlook.com": "microsoft", "hotmail.com": "microsoft", "live.com": "microsoft", "msn.com": "microsoft",
    "outlook.de": "microsoft", "hotmail.de": "microsoft", "hotmail.co.uk": "microsoft",
    "icloud.com": "icloud", "me.com": "icloud", "mac.com": "icloud",
    "fastmail.com": "fastmail", "fastmail.fm": "fastmail",
    "yahoo.com": "yahoo", "yahoo.de": "yahoo", "yahoo.co.uk": "yahoo", "ymail.com": "yahoo",
}


AUTH_METHODS = ("password", "oauth2")
OAUTH_PROVIDERS = ("microsoft", "google", "custom")
PROVIDER_PRESETS = {"microsoft": "microsoft", "google": "gmail"}  # --provider for a practice's own domain


def preset_for(email: str, name: str | None = None) -> Preset | None:
    if name is not None:
        key = PROVIDER_PRESETS.get(name, name)
        if key not in PRESETS:
            raise AccountError(f"There is no preset {name!r}; known: {', '.join(sorted(set(PRESETS) | set(PROVIDER_PRESETS)))}.")
        return PRESETS[key]
    return PRESETS.get(_DOMAINS.get(email.rsplit("@", 1)[-1].lower(), ""))


@dataclass(frozen=True)
class Account:
    email: str
    smtp_host: str
    smtp_port: int
    security: str  # "starttls" | "tls"
    username: str
    cafile: str | None = None
    imap_host: str | None = None
    imap_port: int | None = None
    imap_security: str | None = None
    size_limit: int = DEFAULT_SIZE_LIMIT
    saves_sent_copy: bool = False
    auth: str = "password"  # "password" | "oauth2" (sign in with the provider)
    oauth_provider: str | None = None  # "microsoft" | "google" | "custom" (an issuer URL)
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = None  # only Google's non-confidential desktop-app value
    oauth_tenant: str | None = None  # Microsoft: the organisation's tenant (default "common")
    oauth_issuer: str | None = None  # custom: the provider's issuer URL (its metadata is read)
    oauth_scopes: str | None = None  # custom: space-separated, else "openid offline_access"
    sasl: str | None = None  # "XOAUTH2" | "OAUTHBEARER"; None: XOAUTH2 if offered, else OAUTHBEARER

    @property
    def uses_oauth(self) -> bool:
        return self.auth == "oauth2"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Account:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _clean(value: str | None, what: str, limit: int = 2048) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > limit or any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise AccountError(f"The {what} contains line breaks or control characters, or is far too long.")
    return value.strip()


def make_account(
    email: str,
    *,
    smtp_host: str | None = None,
    smtp_port: int | None = None,
    security: str | None = None,
    username: str | None = None,
    cafile: str | None = None,
    imap_host: str | None = None,
    imap_port: int | None = None,
    imap_security: str | None = None,
    size_limit: int | None = None,
    provider: str | None = None,
    auth: str | None = None,
    oauth_client_id: str | None = None,
    oauth_client_secret: str | None = None,
    oauth_tenant: str | None = None,
    oauth_issuer: str | None = None,
    oauth_scopes: str | None = None,
    sasl: str | None = None,
) -> Account:
    """An account from explicit settings, completed by the provider preset (of the domain, or
    ``provider`` for a practice's own domain at Microsoft 365 / Google Workspace)."""
    preset = preset_for(email, provider)
    host = smtp_host or (preset.smtp_host if preset else None)
    if host is None:
        raise AccountError(
            f"smimehelper does not know the mail servers of {email.rsplit('@', 1)[-1]}. Give them with "
            "--smtp-host, --smtp-port and --security (your provider's help pages list them)."
        )
    sec = security or (preset.security if preset and host == preset.smtp_host else "starttls")
    if sec not in ("starttls", "tls"):
        raise AccountError("--security must be starttls (usually port 587) or tls (usually port 465); sending without encryption is not offered.")
    port = smtp_port or (preset.smtp_port if preset and host == preset.smtp_host else (465 if sec == "tls" else 587))
    if imap_host is None and preset is not None and host == preset.smtp_host:
        imap_host, imap_port, imap_security = preset.imap_host, preset.imap_port, preset.imap_security
    if imap_host is not None:
        imap_security = imap_security or "tls"
        if imap_security not in ("starttls", "tls"):
            raise AccountError("--imap-security must be tls (port 993) or starttls (port 143).")
        imap_port = imap_port or (993 if imap_security == "tls" else 143)
    if cafile is not None:
        from ..errors import InputFileError
        from ..files import regular_size

        try:
            regular_size(Path(cafile), "CA file")  # missing, a folder, a FIFO: a clear error
        except InputFileError as exc:
            raise AccountError(str(exc)) from None
    # The preset's sign-in applies to its own servers, or wherever the user named the provider.
    oauth = _oauth_settings(email, preset if preset and (host == preset.smtp_host or provider) else None, auth=auth, client_id=oauth_client_id,
                            client_secret=oauth_client_secret, tenant=oauth_tenant, issuer=oauth_issuer, scopes=oauth_scopes, sasl=sasl)
    return Account(
        email=email.lower(), smtp_host=host, smtp_port=int(port), security=sec, username=username or email,
        cafile=str(Path(cafile).resolve()) if cafile else None, imap_host=imap_host,
        imap_port=int(imap_port) if imap_port else None, imap_security=imap_security,
        size_limit=size_limit or (preset.size_limit if preset else DEFAULT_SIZE_LIMIT),
        saves_sent_copy=bool(preset and preset.saves_sent_copy and host == preset.smtp_host),
        **oauth,
    )


def _oauth_settings(email: str, preset: Preset | None, *, auth: str | None, client_id: str | None, client_secret: str | None,
                    tenant: str | None, issuer: str | None, scopes: str | None, sasl: str | None) -> dict[str, Any]:
    """The sign-in part of an account: the preset's provider by default, a password when asked."""
    from .oauth.providers import DEFAULT_CLIENT_IDS

    if auth is not None and auth not in AUTH_METHODS:
        raise AccountError(f"The log-in method must be one of {', '.join(AUTH_METHODS)}.")
    issuer = _clean(issuer, "sign-in address (--oauth-issuer)")
    if auth is None:
        auth = "oauth2" if (issuer or (preset and preset.oauth)) else "password"
    if auth == "password":
        return {"auth": "password"}
    kind = "custom" if issuer else (preset.oauth if preset else None)
    if kind is None:
        raise AccountError(
            f"smimehelper does not know where {email} signs in. For Microsoft 365 or Google Workspace with "
            "your practice's own domain add --provider microsoft (or google); for another provider give its "
            "sign-in address with --oauth-issuer URL."
        )
    client_id = _clean(client_id, "client ID", 256) or DEFAULT_CLIENT_IDS.get(kind)
    if not client_id:
        name = {"microsoft": "Microsoft", "google": "Google"}.get(kind, "your provider")
        raise AccountError(
            f"Signing in with {name} needs the client ID of a sign-in app registered for smimehelper, and this "
            f"copy of smimehelper has none built in. Ask your IT for it and add --oauth-client-id ID (the user "
            f"guide explains the registration), or use an app password with --password."
        )
    mechanism = sasl.upper() if sasl else None
    if mechanism not in (None, "XOAUTH2", "OAUTHBEARER"):
        raise AccountError("--sasl must be xoauth2 or oauthbearer.")
    return {
        "auth": "oauth2", "oauth_provider": kind, "oauth_client_id": client_id,
        "oauth_client_secret": _clean(client_secret, "client secret", 256),
        "oauth_tenant": _clean(tenant, "tenant", 256) if kind == "microsoft" else None,
        "oauth_issuer": issuer, "oauth_scopes": _clean(scopes, "scopes") if kind == "custom" else None, "sasl": mechanism,
    }


_discovered: dict[tuple[str, str, str | None, str | None], OAuthProvider] = {}


def oauth_provider(account: Account) -> OAuthProvider:
    """Where ``account`` signs in (a custom issuer's metadata is read once per process)."""
    from .oauth import providers

    if not account.uses_oauth or not account.oauth_client_id:
        raise AccountError(f"{account.email} logs in with a password, not by signing in.")
    if account.oauth_provider == "microsoft":
        return providers.microsoft(account.oauth_client_id, account.oauth_tenant)
    if account.oauth_provider == "google":
        return providers.google(account.oauth_client_id, account.oauth_client_secret)
    if account.oauth_provider == "custom" and account.oauth_issuer:
        key = (account.oauth_issuer, account.oauth_client_id, account.oauth_scopes, account.cafile)
        if key not in _discovered:
            scopes = tuple(account.oauth_scopes.split()) if account.oauth_scopes else None
            _discovered[key] = providers.discover(account.oauth_issuer, account.oauth_client_id, scopes=scopes, cafile=account.cafile,
                                                  client_secret=account.oauth_client_secret)
        return _discovered[key]
    raise AccountError(f"The sign-in settings of {account.email} are incomplete; add the account again.")


Credential = Union[bytes, TokenSource, None]
"""What logs in to an account's servers: a password, or the sign-in's token source."""


class AccountStore:
    def __init__(self, home: Path, secrets: SecretStore) -> None:
        self.path = home / "accounts.json"
        self.secrets = secrets
        self.tokens = TokenStore(home, secrets)

    def list(self) -> list[Account]:
        doc = read_document(self.path, "accounts", SCHEMA) or {"accounts": []}
        return [Account.from_dict(a) for a in doc["accounts"]]

    def get(self, email: str | None = None) -> Account:
        accounts = self.list()
        if not accounts:
            raise AccountError("No mail account is set up. Add yours with 'smimehelper account add --email ADDR'.")
        if email is None:
            return accounts[0]
        found = next((a for a in accounts if a.email == email.lower()), None)
        if found is None:
            raise AccountError(f"There is no account for {email}. 'smimehelper account list' shows them.")
        return found

    def add(self, account: Account, password: bytes | None) -> bool:
        """Store the account; returns whether the password went to the keyring. Switching an
        account to sign-in removes its stored password (and the other way round)."""
        accounts = [a for a in self.list() if a.email != account.email] + [account]
        save_document(self.path, "accounts", SCHEMA, {"accounts": [asdict(a) for a in accounts]}, what="The account was not saved")
        if account.uses_oauth:
            self.secrets.delete(f"account:{account.email}")
            return False
        self.tokens.forget(account.email)
        return bool(password) and self.secrets.put(f"account:{account.email}", password)  # type: ignore[arg-type]

    def remove(self, email: str) -> Account:
        account = self.get(email)
        save_document(self.path, "accounts", SCHEMA, {"accounts": [asdict(a) for a in self.list() if a.email != account.email]}, what="The account was not removed")
        self.secrets.delete(f"account:{account.email}")
        self.tokens.forget(account.email)
        return account

    def password(self, account: Account) -> bytes | None:
        if account.uses_oauth:
            return None
        return self.secrets.get(f"account:{account.email}")

    def token_source(self, account: Account, sign_in: SignIn | None = None) -> TokenSource:
        """The sign-in of an OAuth account; ``sign_in`` opens the browser when there is none."""
        return TokenSource(account.email, lambda: oauth_provider(account), self.tokens, sign_in)

    def credential(self, account: Account, ask_password: Callable[[Account], bytes | None] | None = None,
                   sign_in: SignIn | None = None) -> Credential:
        """How to log in to ``account``: its token source (never a password) for a signed-in
        account; else the keyring's password, else the one ``ask_password`` gives."""
        if account.uses_oauth:
            return self.token_source(account, sign_in)
        return self.password(account) or (ask_password(account) if ask_password else None)

    def with_limit(self, account: Account, limit: int) -> Account:
        return replace(account, size_limit=limit)
