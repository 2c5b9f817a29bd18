"""Read what a Thunderbird profile's prefs.js says about accounts and the Outbox.

Only reading: Thunderbird owns prefs.js (it rewrites the file on exit). We need the user's
identities (to send through the account that owns the From address), the Local Folders
directory and its store kind (mbox file or maildir folder, ``storeContractID``), and the
Outbox folder (``mail.default_sendlater_uri``; shown as "Outbox", stored as
"Unsent Messages").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import UserError

DEFAULT_SENDLATER_URI = "mailbox://nobody@Local%20Folders/Unsent%20Messages"
MBOX_STORE = "@mozilla.org/msgstore/berkeleystore;1"
MAILDIR_STORE = "@mozilla.org/msgstore/maildirstore;1"
_PREF = re.compile(
    rb'user_pref\(\s*("(?:[^"\\]|\\.)*")\s*,\s*("(?:[^"\\]|\\.)*"|-?\d+|true|false)\s*\)\s*;'
)
MAX_PREFS_BYTES = 64 * 1024 * 1024


class ThunderbirdSetupError(UserError):
    """The profile is not set up the way a hand-off needs (no account for the sender, ...)."""


def read_prefs(profile: Path) -> dict[str, object]:
    """prefs.js, then user.js (which wins when Thunderbird starts), as a dict."""
    prefs: dict[str, object] = {}
    for name in ("prefs.js", "user.js"):
        path = profile / name
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_PREFS_BYTES + 1)
        except FileNotFoundError:
            if name == "prefs.js":
                raise ThunderbirdSetupError(f"{profile} has no prefs.js: it is not a Thunderbird profile.") from None
            continue
        except OSError as exc:
            raise ThunderbirdSetupError(f"Cannot read Thunderbird's settings {path}: {exc.strerror}.") from None
        if len(data) > MAX_PREFS_BYTES:
            raise ThunderbirdSetupError(f"Thunderbird's settings file {path} is implausibly large; it is not used.")
        for match in _PREF.finditer(data):
            try:
                key = json.loads(match.group(1).decode("utf-8", "surrogateescape"))
                value = json.loads(match.group(2).decode("utf-8", "surrogateescape"))
            except (ValueError, UnicodeError):
                continue
            prefs[str(key)] = value
    return prefs


def _text(prefs: dict[str, object], key: str, default: str = "") -> str:
    value = prefs.get(key, default)
    return value if isinstance(value, str) else default


def _keys(prefs: dict[str, object], key: str) -> list[str]:
    return [k.strip() for k in _text(prefs, key).split(",") if k.strip()]


@dataclass(frozen=True)
class Identity:
    key: str  # "id1": what X-Identity-Key names
    account_key: str  # "account1": X-Account-Key
    email: str


def identities(prefs: dict[str, object]) -> list[Identity]:
    """Every identity of every account Thunderbird lists, in its order."""
    found = []
    for account in _keys(prefs, "mail.accountmanager.accounts"):
        for identity in _keys(prefs, f"mail.account.{account}.identities"):
            email = _text(prefs, f"mail.identity.{identity}.useremail").strip()
            if email:
                found.append(Identity(key=identity, account_key=account, email=email))
    return found


def identity_for(prefs: dict[str, object], sender: str) -> Identity:
    """The identity whose address is ``sender``: its account and SMTP server send the message."""
    wanted = sender.strip().lower()
    known = identities(prefs)
    for identity in known:
        if identity.email.lower() == wanted:
            return identity
    have = ", ".join(sorted({i.email for i in known})) or "none"
    raise ThunderbirdSetupError(
        f"Thunderbird has no account for {sender} (its addresses: {have}), so it would send the message "
        f"from the wrong account. Add {sender} in Thunderbird (Account Settings), or send the message "
        "with smimehelper itself (Send)."
    )


@dataclass(frozen=True)
class Outbox:
    """Where Thunderbird's Outbox lives: an mbox file, or a maildir folder."""

    path: Path
    store: str  # "mbox" or "maildir"
    uri: str  # the folder URI Thunderbird uses for it (session.json, ...)
    summary: Path  # the .msf index Thunderbird keeps beside it


def _server_directory(profile: Path, prefs: dict[str, object], server: str) -> Path | None:
    relative = _text(prefs, f"mail.server.{server}.directory-rel")
    if relative.startswith("[ProfD]"):
        return profile.joinpath(*relative[len("[ProfD]"):].replace("\\", "/").split("/"))
    absolute = _text(prefs, f"mail.server.{server}.directory")
    return Path(absolute) if absolute else None


def outbox(profile: Path, prefs: dict[str, object]) -> Outbox:
    """The Outbox of ``profile`` (see module doc); raises if it is not in Local Folders."""
    uri = _text(prefs, "mail.default_sendlater_uri", DEFAULT_SENDLATER_URI) or DEFAULT_SENDLATER_URI
    parts = urlsplit(uri)
    server = _text(prefs, "mail.accountmanager.localfoldersserver")
    user = _text(prefs, f"mail.server.{server}.userName", "nobody") if server else ""
    host = _text(prefs, f"mail.server.{server}.hostname", "Local Folders") if server else ""
    if (
        not server
        or parts.scheme != "mailbox"
        or unquote(parts.username or "") != user
        or unquote(parts.hostname or "", errors="strict").lower() != host.lower()
    ):
        raise ThunderbirdSetupError(
            "Thunderbird's Outbox is not in its Local Folders, which smimehelper needs. Send the message "
            "with smimehelper itself (Send) instead."
        )
    directory = _server_directory(profile, prefs, server)
    if directory is None:
        raise ThunderbirdSetupError("Thunderbird's settings do not say where its Local Folders are stored.")
    names = [unquote(p) for p in parts.path.split("/") if p]
    if not names or any(n in (".", "..") or "\\" in n for n in names):
        raise ThunderbirdSetupError(f"Thunderbird's Outbox address {uri} is not one smimehelper understands.")
    path = directory
    for name in names[:-1]:
        path = path / f"{name}.sbd"
    path = path / names[-1]
    contract = _text(prefs, f"mail.server.{server}.storeContractID") or _text(prefs, "mail.serverDefaultStoreContractID", MBOX_STORE)
    if contract not in (MBOX_STORE, MAILDIR_STORE):
        raise ThunderbirdSetupError(
            f"Thunderbird stores its Local Folders in a way smimehelper does not know ({contract}). Send the "
            "message with smimehelper itself (Send) instead."
        )
    store = "maildir" if contract == MAILDIR_STORE else "mbox"
    return Outbox(path=path, store=store, uri=uri, summary=path.with_name(path.name + ".msf"))
