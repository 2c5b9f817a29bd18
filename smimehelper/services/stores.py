"""The user's data folder (identities, contacts, trust, settings, accounts, outbox) and contacts."""

from __future__ import annotations

import contextlib
import re

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ..core.certs import cert_emails, describe, load_certificates
from ..core.contacts import ContactCert, ContactStore
from ..core.errors import CertificateError
from ..core.files import open_regular
from ..core.home import resolve_home
from ..core.identity_store import IdentityStore
from ..core.secrets import OsKeyring, SecretStore
from ..core.settings import Settings
from ..core.transport.accounts import AccountStore
from ..core.transport.outbox import Outbox
from ..core.trust_store import TrustStore
from ..core.validation import Purpose
from . import AskPassphrase, now as clock

if TYPE_CHECKING:
    from ..core.cert_status import CertStatus


@dataclass(frozen=True)
class Stores:
    """The user's identities, contacts and trusted authorities in one data folder."""

    home: Path
    identities: IdentityStore
    contacts: ContactStore
    trust: TrustStore
    settings: Settings
    accounts: AccountStore
    outbox: Outbox

    @classmethod
    def open(cls, home: Path | None = None, secrets: SecretStore | None = None, *, system_trust: bool = True) -> Stores:
        folder = resolve_home(home)
        _remove_old_drafts(folder)
        keyring_store = secrets or OsKeyring()
        return cls(
            home=folder,
            identities=IdentityStore(folder, keyring_store),
            contacts=ContactStore(folder),
            trust=TrustStore(folder, use_system=system_trust),
            settings=Settings(folder),
            accounts=AccountStore(folder, keyring_store),
            outbox=Outbox(folder),
        )

    def strict_revocation(self) -> bool:
        return bool(self.settings.get("strict_revocation", False))

    def intermediates(self) -> list[x509.Certificate]:
        """Every CA certificate the store has seen (identity chains, signed mail): path building
        finds a contact's issuer here when their file or message did not include it."""
        pool: dict[bytes, x509.Certificate] = {}
        for stored in self.identities.list():
            for cert in stored.chain:
                pool[cert.fingerprint(hashes.SHA256())] = cert
        for entry in self.contacts.entries():
            for cert in entry.chain:
                pool[cert.fingerprint(hashes.SHA256())] = cert
        return list(pool.values())


@dataclass(frozen=True)
class ContactRow:
    entry: ContactCert
    status: CertStatus


def list_contacts(stores: Stores, now: dt.datetime | None = None, *, fetch: bool = True, address: str | None = None) -> list[ContactRow]:
    """Contacts (all, or one address) with the status of each certificate."""
    from ..core.cert_status import certificate_status  # the validator: loaded when first checked

    now = now or clock()
    anchors = stores.trust.anchors()
    strict = stores.strict_revocation()
    pool = stores.intermediates()
    entries = stores.contacts.for_address(address) if address else stores.contacts.entries()
    return [
        ContactRow(e, certificate_status(e.cert, Purpose.ENCRYPT, now, anchors, (*e.chain, *pool), email=e.email, fetch=fetch, strict_revocation=strict,
                                         trusted_directly=e.trusted_directly is not None))
        for e in entries
    ]


def import_contacts(stores: Stores, paths: tuple[Path, ...], ask_passphrase: AskPassphrase | None) -> list[ContactCert]:
    """Certificates from files, or the signer of signed messages (.eml).

    Every file is read and checked first; only when all are good is anything stored, so a
    failed import changes nothing.
    """
    from ..core.reader import open_message

    found: list[tuple[x509.Certificate, tuple[x509.Certificate, ...], bytes | None, dt.datetime | None, str]] = []
    own = {e for i in stores.identities.list() for e in i.emails}
    for path in paths:
        if _looks_like_mail(path):
            opened = open_message(
                path,
                identities=stores.identities.all_locked(ask_passphrase),  # type: ignore[arg-type]
                anchors=stores.trust.anchors(),
                now=clock(),
            )
            if opened.encrypted and not opened.decrypted:
                raise CertificateError(f"{path} could not be opened: {opened.decryption_problem}")
            valid = [v for v in opened.signatures if v.valid and v.signer is not None]
            if not valid:
                reasons = "; ".join(v.reason or "" for v in opened.signatures) or "it is not signed"
                raise CertificateError(f"{path} has no valid signature to take a certificate from: {reasons}")
            for v in valid:
                if own.intersection(cert_emails(v.signer)):  # type: ignore[arg-type]
                    continue
                chain = tuple(c for c in v.certificates if c != v.signer)
                found.append((v.signer, chain, v.capabilities, v.signed_at, f"signed message {path.name}"))  # type: ignore[arg-type]
            continue
        certs = load_certificates(path)
        people = [c for c in certs if not describe(c).is_ca]
        if not people:
            raise CertificateError(f"{path} contains only certificate authorities; to trust them use 'smimehelper trust add'.")
        for cert in people:
            if not cert_emails(cert):
                raise CertificateError(f"The certificate of {describe(cert).display_name} in {path} contains no e-mail address.")
        chain = tuple(c for c in certs if describe(c).is_ca)
        found += [(cert, chain, None, None, f"file {path.name}") for cert in people]
    return stores.contacts.add_all(found)  # one write: all or nothing


def _looks_like_mail(path: Path) -> bool:
    with open_regular(path, "certificate file or signed message (.eml)") as handle:  # no FIFO, no device
        try:
            head = handle.read(2048).lower()
        except OSError:
            return False
    return b"content-type:" in head and (b"from:" in head or b"mime-version:" in head)


# -- delivery -------------------------------------------------------------------------------


OLD_DRAFT = re.compile(r"^message-\d{8}-\d{6}(-\d+)?\.eml$")


def _remove_old_drafts(home: Path) -> None:
    """Versions before the Thunderbird Outbox hand-off kept "Open in mail program" drafts (whole
    encrypted messages with patient data) in ``<data folder>/drafts``: remove them (issue 10:
    never leave drafts of patient data lying in the data folder)."""
    drafts = home / "drafts"
    if not drafts.is_dir():
        return
    for draft in drafts.iterdir():
        if OLD_DRAFT.match(draft.name) and draft.is_file() and not draft.is_symlink():
            with contextlib.suppress(OSError):
                draft.unlink()
    with contextlib.suppress(OSError):
        drafts.rmdir()  # only when nothing else is in it
