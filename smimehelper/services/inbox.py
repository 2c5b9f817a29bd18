"""The secure inbox: list the S/MIME messages of the user's mailbox and open one from the server.

Listing reads only headers and structures; opening fetches the message in chunks straight into
the reader (core.transport.inbox), keeps the signers' certificates as contacts like ``open``
does, marks the message as read on the server (and nothing else: no message is ever deleted or
moved) and remembers the verdict so the list can show it next time.

The IMAP login happens in one place, :func:`mailbox_for`: the OAuth sign-in plugs in there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.certs import load_certificates
from ..core.errors import UserError
from ..core.jsonstore import read_document, write_document
from ..core.reader import OpenedMessage
from ..core.transport.accounts import Account
from ..core.transport.imap_fetch import Cancelled, Mailbox, MessageRef, Progress
from ..core.transport.oauth.tokens import SignIn
from ..core.transport.inbox import (
    DEFAULT_LIMIT,
    Folder,
    PrivateSpool,
    SecureMessage,
    find_secure_messages,
    list_folders,
    open_from_mailbox,
)
from . import AskPassphrase, now as clock
from .delivery import AskPassword, password_source
from .inputs import open_identity
from .opening import harvest_signers

if TYPE_CHECKING:
    from .stores import Stores

SCHEMA = 1
GOOD, PROBLEM, CAUTION = "good", "problem", "caution"


class InboxError(UserError):
    pass


# -- the connection ---------------------------------------------------------------------------

def inbox_account(stores: Stores, email: str | None) -> Account:
    account = stores.accounts.get(email)
    if not account.imap_host:
        raise InboxError(
            f"No IMAP server is set up for {account.email}, so smimehelper cannot read its mailbox. Add it "
            "with 'smimehelper account add --email ADDR --imap-host HOST' (providers' presets fill it in)."
        )
    return account


def mailbox_for(stores: Stores, account: Account, ask: AskPassword | None, sign_in: SignIn | None = None) -> Mailbox:
    """A (lazily connecting) mailbox of ``account``: TLS or STARTTLS, certificate and host name
    verified (core.transport.imap.connect), logged in with the account's credential: its OAuth
    sign-in (``sign_in`` opens the browser when there is none), else the keyring's or the asked
    password. Every reconnect (a resumed fetch) logs in the same way."""
    from ..core.transport import imap

    credential = password_source(stores, ask, sign_in)(account)
    return Mailbox(lambda: imap.connect(account, credential), where=f"the mail server {account.imap_host}")


# -- which folders ----------------------------------------------------------------------------

def _folders_key(account: Account) -> str:
    return f"inbox_folders:{account.email}"


def chosen_folders(stores: Stores, account: Account) -> list[str]:
    """The folders the user picked for the secure inbox (INBOX unless they chose others)."""
    value = stores.settings.get(_folders_key(account))
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(dict.fromkeys(value))
    return ["INBOX"]


def choose_folders(stores: Stores, account: Account, folders: Sequence[str]) -> list[str]:
    names = [f for f in dict.fromkeys(folders) if f.strip()]
    for name in names:
        if any(c in name for c in "\r\n\x00"):
            raise InboxError("A folder name cannot contain line breaks.")
    if not names:
        raise InboxError("Pick at least one folder.")
    stores.settings.set(_folders_key(account), names)
    return names


def server_folders(stores: Stores, account_email: str | None, ask: AskPassword | None,
                   sign_in: SignIn | None = None) -> list[Folder]:
    account = inbox_account(stores, account_email)
    with mailbox_for(stores, account, ask, sign_in) as mailbox:
        return list_folders(mailbox)


# -- verdicts remembered per message ----------------------------------------------------------

@dataclass(frozen=True)
class StoredVerdict:
    level: str  # GOOD | PROBLEM | CAUTION
    summary: str  # a few words: "valid and trusted", "could not be decrypted", ...
    opened: str  # when (ISO 8601)


def verdict_of(opened: OpenedMessage) -> tuple[str, str]:
    """(level, a few words) for the list; the full verdict is shown when the message is open."""
    if opened.encrypted and not opened.decrypted:
        return PROBLEM, "could not be decrypted"
    if not opened.all_good:
        return PROBLEM, "a security check failed"
    if not opened.signatures:
        return CAUTION, "decrypted, not signed" if opened.encrypted else "neither signed nor encrypted"
    if opened.encryption_weak:
        return CAUTION, "valid and trusted, weak encryption"
    return GOOD, "valid and trusted" + ("" if opened.encrypted else " (signed, not encrypted)")


def _key(account: Account, ref: MessageRef) -> str:
    return f"{account.email}\n{ref.folder}\n{ref.uidvalidity}\n{ref.uid}"


class InboxVerdicts:
    """``inbox-verdicts/`` in the data folder: the verdict of each message opened, one small file
    each (0600, written atomically), so two processes opening messages at once never lose one.
    A file holds the verdict in a few words and when: no content, no subject, no address."""

    def __init__(self, home: Path) -> None:
        self.folder = home / "inbox-verdicts"

    def _path(self, account: Account, ref: MessageRef) -> Path:
        import hashlib

        return self.folder / (hashlib.sha256(_key(account, ref).encode("utf-8")).hexdigest()[:40] + ".json")

    def get(self, account: Account, ref: MessageRef) -> StoredVerdict | None:
        try:
            doc = read_document(self._path(account, ref), "inbox-verdict", SCHEMA)
        except UserError:
            return None  # a damaged file only loses the note in the list
        if not doc or doc.get("key") != _key(account, ref):
            return None
        try:
            return StoredVerdict(str(doc["level"]), str(doc["summary"]), str(doc["opened"]))
        except KeyError:
            return None

    def remember(self, account: Account, ref: MessageRef, level: str, summary: str, when: dt.datetime) -> StoredVerdict:
        verdict = StoredVerdict(level, summary, when.isoformat(timespec="seconds"))
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_document(self._path(account, ref), "inbox-verdict", SCHEMA,
                       {"key": _key(account, ref), "level": level, "summary": summary, "opened": verdict.opened})
        return verdict


# -- listing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class InboxRow:
    message: SecureMessage
    verdict: StoredVerdict | None


@dataclass(frozen=True)
class InboxListing:
    account: str
    folders: tuple[str, ...]
    rows: tuple[InboxRow, ...]  # newest first over all folders
    methods: dict[str, str] = field(default_factory=dict)  # folder -> "search" | "bodystructure"


def list_inbox(
    stores: Stores,
    account_email: str | None,
    ask: AskPassword | None,
    *,
    folders: Sequence[str] | None = None,
    limit: int = DEFAULT_LIMIT,
    method: str = "auto",
    sign_in: SignIn | None = None,
) -> InboxListing:
    """The S/MIME messages (newest ``limit`` per folder) of the chosen folders, newest first."""
    account = inbox_account(stores, account_email)
    names = list(dict.fromkeys(folders)) if folders else chosen_folders(stores, account)
    remembered = InboxVerdicts(stores.home)
    messages: list[SecureMessage] = []
    methods: dict[str, str] = {}
    with mailbox_for(stores, account, ask, sign_in) as mailbox:
        for name in names:
            found, used = find_secure_messages(mailbox, name, limit=limit, method=method)
            messages.extend(found)
            methods[name] = used
    epoch = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    messages.sort(key=lambda m: (m.received or epoch, m.uid), reverse=True)
    rows = tuple(InboxRow(m, remembered.get(account, m.ref)) for m in messages)
    return InboxListing(account.email, tuple(names), rows, methods)


# -- opening ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class InboxOpenInput:
    uid: int
    folder: str = "INBOX"
    account: str | None = None
    uidvalidity: int | None = None  # from the list; None: the folder's current one
    save_attachments: Path | None = None
    keys: tuple[Path, ...] = ()
    trust: tuple[Path, ...] = ()
    now: dt.datetime | None = None


@dataclass
class InboxOpened:
    """An opened message. With ``keep`` its fetched copy (0600, in a private folder) stays at
    ``path`` for saving attachments later, until :meth:`close` removes it."""

    account: str
    ref: MessageRef
    opened: OpenedMessage
    level: str
    summary: str
    marked_read: bool
    mark_problem: str | None
    path: Path | None = None
    _spool: PrivateSpool | None = None

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        self.path = None


def open_inbox_message(
    stores: Stores,
    request: InboxOpenInput,
    ask_password: AskPassword | None,
    ask_passphrase: AskPassphrase | None,
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    keep: bool = False,
    mailbox: Mailbox | None = None,
    sign_in: SignIn | None = None,
) -> InboxOpened:
    """Fetch and open one message of the mailbox; mark it read on the server once opened."""
    account = inbox_account(stores, request.account)
    identities: list[object] = [open_identity(path, ask_passphrase) for path in request.keys]
    anchors = [c for path in request.trust for c in load_certificates(path)]
    identities.extend(stores.identities.all_locked(ask_passphrase))
    anchors.extend(stores.trust.anchors())
    ref = MessageRef(request.folder, request.uid, request.uidvalidity)
    own_mailbox = mailbox is None
    box = mailbox_for(stores, account, ask_password, sign_in) if mailbox is None else mailbox
    spool = PrivateSpool()
    try:
        fetched = open_from_mailbox(
            box, ref, spool, identities=identities, anchors=anchors,  # type: ignore[arg-type]
            save_dir=request.save_attachments, now=request.now or clock(), progress=progress, cancelled=cancelled,
        )
        opened = fetched.opened
        harvest_signers(stores, opened, f"signed message {request.uid} in {request.folder} ({account.email})")
        marked, problem = True, None
        try:
            box.mark_seen(fetched.located)
        except UserError as exc:  # opened fine; only the flag could not be set
            marked, problem = False, str(exc)
        level, summary = verdict_of(opened)
        InboxVerdicts(stores.home).remember(account, fetched.located.ref, level, summary, clock())
    except BaseException:
        spool.close()
        raise
    finally:
        if own_mailbox:
            box.close()
    result = InboxOpened(account.email, fetched.located.ref, opened, level, summary, marked, problem)
    if keep:
        result.path, result._spool = fetched.path, spool
    else:
        spool.close()
    return result

