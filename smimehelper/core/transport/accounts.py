"""Mail accounts: where to send from, and the provider presets that fill in the servers.

Passwords are never in the account file: they live in the OS keyring when a secure one exists,
otherwise they are asked for (or read with --password-file) each time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..errors import UserError
from ..jsonstore import read_document, write_document
from ..secrets import SecretStore

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


PRESETS: dict[str, Preset] = {
    "gmail": Preset("Gmail", "smtp.gmail.com", 587, "starttls", "imap.gmail.com", 993, "tls", 25_000_000, True,
                    "Gmail needs an app password (Google account > Security > 2-Step Verification > App passwords)."),
    "microsoft": Preset("Microsoft 365 / Outlook.com", "smtp.office365.com", 587, "starttls", "outlook.office365.com", 993, "tls", 35_000_000, False,
                        "Microsoft accounts with two-step verification need an app password; organisations must allow SMTP AUTH for the mailbox."),
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


def preset_for(email: str) -> Preset | None:
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
) -> Account:
    """An account from explicit settings, completed by the provider preset of the domain."""
    preset = preset_for(email)
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
    if cafile is not None and not Path(cafile).is_file():
        raise AccountError(f"The CA file {cafile} does not exist.")
    return Account(
        email=email.lower(), smtp_host=host, smtp_port=int(port), security=sec, username=username or email,
        cafile=str(Path(cafile).resolve()) if cafile else None, imap_host=imap_host,
        imap_port=int(imap_port) if imap_port else None, imap_security=imap_security,
        size_limit=size_limit or (preset.size_limit if preset else DEFAULT_SIZE_LIMIT),
        saves_sent_copy=bool(preset and preset.saves_sent_copy and host == preset.smtp_host),
    )


class AccountStore:
    def __init__(self, home: Path, secrets: SecretStore) -> None:
        self.path = home / "accounts.json"
        self.secrets = secrets

    def list(self) -> list[Account]:
        doc = read_document(self.path, "accounts", SCHEMA) or {"accounts": []}
        return [Account(**a) for a in doc["accounts"]]

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
        """Store the account; returns whether the password went to the keyring."""
        accounts = [a for a in self.list() if a.email != account.email] + [account]
        write_document(self.path, "accounts", SCHEMA, {"accounts": [asdict(a) for a in accounts]})
        return bool(password) and self.secrets.put(f"account:{account.email}", password)  # type: ignore[arg-type]

    def remove(self, email: str) -> Account:
        account = self.get(email)
        write_document(self.path, "accounts", SCHEMA, {"accounts": [asdict(a) for a in self.list() if a.email != account.email]})
        self.secrets.delete(f"account:{account.email}")
        return account

    def password(self, account: Account) -> bytes | None:
        return self.secrets.get(f"account:{account.email}")

    def with_limit(self, account: Account, limit: int) -> Account:
        return replace(account, size_limit=limit)
