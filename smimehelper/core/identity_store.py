"""The user's own certificates with their keys, imported once.

Each identity is a JSON record (certificate, chain, how the key is protected) plus an encrypted
PKCS#8 key file. The key is unlocked by a random secret kept in the OS keyring when a secure
keyring exists, otherwise by the user's passphrase; nothing in the folder opens without one of
them. Expired identities stay (old mail must still open) but are never chosen for signing.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .certs import CertInfo, cert_emails, describe, load_certificates, read_small_file
from .errors import CertificateError, InputFileError, PassphraseError, UserError
from .identity import Identity, load_pkcs12, _order_chain, _spki
from .atomic import AtomicBatch
from .email_usage import email_usage_problem, usable_now
from .jsonstore import read_document, store_error, write_document
from .keyfile import PASSPHRASE_ITERATIONS, RANDOM_SECRET_ITERATIONS, decrypt_private_key, encrypt_private_key
from .secrets import SecretStore
from .settings import Settings

if TYPE_CHECKING:
    from .identity_requests import PendingRequest

SCHEMA = 1
EXPIRY_WARNING = dt.timedelta(days=30)
AskPassphrase = Callable[[str], bytes]


class IdentityNotFound(UserError):
    pass


@dataclass(frozen=True)
class StoredIdentity:
    """An identity as listed: everything but the key."""

    fingerprint: str  # hex SHA-256 of the certificate, no colons
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    protection: str  # "keyring" | "passphrase"
    is_default: bool

    @property
    def info(self) -> CertInfo:
        return describe(self.cert)

    @property
    def emails(self) -> tuple[str, ...]:
        return cert_emails(self.cert)

    def expired(self, now: dt.datetime) -> bool:
        return now > self.cert.not_valid_after_utc

    def expiry_warning(self, now: dt.datetime) -> str | None:
        end = self.cert.not_valid_after_utc
        if now > end:
            return f"Your certificate for {', '.join(self.emails)} expired on {end:%Y-%m-%d}; it is kept to open old mail but no longer signs."
        if end - now <= EXPIRY_WARNING:
            return f"Your certificate for {', '.join(self.emails)} expires on {end:%Y-%m-%d}; renew it with your certificate provider soon."
        return None


class LockedIdentity:
    """A stored identity whose key is unlocked only when it is really needed (decrypt, sign)."""

    def __init__(self, stored: StoredIdentity, unlock: Callable[[], object]) -> None:
        self.stored = stored
        self.cert = stored.cert
        self.chain = stored.chain
        self._unlock = unlock
        self._key: object | None = None

    @property
    def key(self):  # type: ignore[no-untyped-def]
        if self._key is None:
            self._key = self._unlock()
        return self._key

    @property
    def emails(self) -> tuple[str, ...]:
        return cert_emails(self.cert)

    def unlocked(self) -> Identity:
        return Identity(key=self.key, cert=self.cert, chain=self.chain)  # type: ignore[arg-type]


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


class IdentityStore:
    def __init__(self, home: Path, secrets: SecretStore) -> None:
        self.folder = home / "identities"
        self.settings = Settings(home)
        self.secrets = secrets

    # -- reading ---------------------------------------------------------------------------
    def list(self) -> list[StoredIdentity]:
        default = self._default()
        found = []
        if not self.folder.is_dir():
            return []
        for path in sorted(self.folder.glob("*.json")):
            if path.name.startswith("request-"):
                continue
            doc = read_document(path, "identity", SCHEMA)
            if doc is None:
                continue
            cert = x509.load_pem_x509_certificate(doc["certificate"].encode())
            chain = tuple(x509.load_pem_x509_certificate(c.encode()) for c in doc.get("chain", []))
            found.append(StoredIdentity(doc["fingerprint"], cert, chain, doc["protection"], doc["fingerprint"] == default))
        return sorted(found, key=lambda s: (not s.is_default, s.cert.not_valid_after_utc), reverse=False)

    def get(self, selector: str | None = None) -> StoredIdentity:
        """By e-mail address or fingerprint (prefix); None gives the default identity."""
        identities = self.list()
        if not identities:
            raise IdentityNotFound(
                "You have not imported your certificate yet. Import it once with "
                "'smimehelper identity import YOUR-CERTIFICATE.p12'."
            )
        if selector is None:
            return next((i for i in identities if i.is_default), identities[0])
        wanted = selector.strip().lower().replace(":", "")
        matches = [i for i in identities if wanted in i.emails or (len(wanted) >= 8 and i.fingerprint.startswith(wanted))]
        if not matches:
            raise IdentityNotFound(f"No certificate of yours matches {selector}. 'smimehelper identity list' shows them.")
        return sorted(matches, key=lambda i: (not i.is_default, -i.cert.not_valid_after_utc.timestamp()))[0]

    def for_signing(self, email: str | None, now: dt.datetime) -> StoredIdentity:
        """The identity to sign with: the newest valid one for ``email`` (default: the default
        identity's addresses, so a renewed certificate takes over from an expiring one)."""
        identities = self.list()
        if email is None:
            default = next((i for i in identities if i.is_default), identities[0] if identities else None)
            wanted = set(default.emails) if default else set()
        else:
            wanted = {email.lower()}
        candidates = [i for i in identities if wanted.intersection(i.emails)]
        if not candidates:
            raise IdentityNotFound(
                f"None of your certificates is for {email}. Import it with 'smimehelper identity import'."
                if email else "You have not imported your certificate yet. Import it once with 'smimehelper identity import YOUR-CERTIFICATE.p12'."
            )
        usable = [i for i in candidates if not i.expired(now) and now >= i.cert.not_valid_before_utc]
        if not usable:
            newest = max(candidates, key=lambda i: i.cert.not_valid_after_utc)
            raise CertificateError(
                f"Your certificate for {', '.join(newest.emails)} expired on "
                f"{newest.cert.not_valid_after_utc:%Y-%m-%d}; get a new one from your certificate "
                "provider and import it."
            )
        return max(usable, key=lambda i: (i.cert.not_valid_after_utc, i.is_default))

    def locked(self, stored: StoredIdentity, ask: AskPassphrase | None) -> LockedIdentity:
        return LockedIdentity(stored, lambda: self._unlock(stored, ask))

    def all_locked(self, ask: AskPassphrase | None) -> list[LockedIdentity]:
        return [self.locked(s, ask) for s in self.list()]

    # -- writing ---------------------------------------------------------------------------
    def import_pkcs12(self, path: Path, ask: AskPassphrase | None, *, ask_new: AskPassphrase | None = None,
                      now: dt.datetime | None = None) -> StoredIdentity:
        try:
            identity = load_pkcs12(path, None)
            passphrase = b""
        except PassphraseError:
            if ask is None:
                raise
            passphrase = ask(f"Passphrase for {Path(path).name}: ")
            identity = load_pkcs12(path, passphrase)
        return self._store(identity, passphrase, ask_new, now=now)

    def import_pem(self, key_path: Path, cert_path: Path, ask: AskPassphrase | None, *, ask_new: AskPassphrase | None = None,
                   now: dt.datetime | None = None) -> StoredIdentity:
        data = read_small_file(key_path, what="key file")
        passphrase = b""
        try:
            key = serialization.load_pem_private_key(data, None)
        except TypeError:  # encrypted
            if ask is None:
                raise PassphraseError(f"{key_path} is protected by a passphrase; please give it.") from None
            passphrase = ask(f"Passphrase for {Path(key_path).name}: ")
            try:
                key = serialization.load_pem_private_key(data, passphrase)
            except (ValueError, TypeError):
                raise PassphraseError(f"The passphrase for {key_path} is not correct. Please try again.") from None
        except ValueError:
            raise CertificateError(f"{key_path} is not a readable private key (PEM).") from None
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise CertificateError(f"The key in {key_path} is of a kind S/MIME mail programs do not support; RSA or EC is needed.")
        certs = load_certificates(cert_path)
        leaf = next((c for c in certs if _spki(c.public_key()) == _spki(key.public_key())), None)
        if leaf is None:
            raise CertificateError(f"No certificate in {cert_path} belongs to the key in {key_path}.")
        chain = _order_chain(leaf, tuple(c for c in certs if c != leaf))
        return self._store(Identity(key=key, cert=leaf, chain=chain), passphrase, ask_new, now=now)

    def _store(self, identity: Identity, passphrase: bytes, ask_new: AskPassphrase | None, *,
               now: dt.datetime | None = None, also_remove: tuple[Path, ...] = ()) -> StoredIdentity:
        """Keep ``identity``: its encrypted key, its record and (maybe) the default setting are
        written together or not at all (``also_remove`` goes in the same step), and the keyring
        is put back as it was when writing fails."""
        if not cert_emails(identity.cert):
            raise CertificateError("This certificate contains no e-mail address, so it cannot be used for e-mail.")
        unusable = email_usage_problem(identity.cert)
        if unusable is not None:
            raise CertificateError(unusable)
        now = now or dt.datetime.now(dt.timezone.utc)
        fingerprint = _fingerprint(identity.cert)
        secret_name = f"identity:{fingerprint}"
        previous_secret = self.secrets.get(secret_name) if self.secrets.available() else None
        keyring_changed = False
        if self.secrets.available():
            secret = os.urandom(32)
            keyring_changed = self.secrets.put(secret_name, secret)
            if not keyring_changed:
                secret = b""
        else:
            secret = b""
        try:
            return self._write_identity(identity, fingerprint, secret, passphrase, ask_new, now, also_remove)
        except BaseException:
            if keyring_changed:  # the key files on disk still need the old secret (or none)
                if previous_secret is not None:
                    self.secrets.put(secret_name, previous_secret)
                else:
                    self.secrets.delete(secret_name)
            raise

    def _write_identity(self, identity: Identity, fingerprint: str, secret: bytes, passphrase: bytes,
                        ask_new: AskPassphrase | None, now: dt.datetime, also_remove: tuple[Path, ...]) -> StoredIdentity:
        if secret:
            protection, iterations = "keyring", RANDOM_SECRET_ITERATIONS
        else:
            protection, iterations = "passphrase", PASSPHRASE_ITERATIONS
            secret = passphrase
            if not secret:
                if ask_new is None:
                    raise PassphraseError(
                        "This computer has no secure keyring, so your key must be protected by a "
                        "passphrase. Give one with --passphrase-file or run in a terminal."
                    )
                secret = ask_new("New passphrase to protect your key: ")
                if len(secret) < 8:
                    raise PassphraseError("Choose a passphrase of at least 8 characters.")
        key_path = self.folder / f"{fingerprint}.key"
        encrypted = encrypt_private_key(identity.key, secret, iterations)
        current = self._default_identity()
        becomes_default = (
            current is None
            # a renewal takes over as default
            or (set(current.emails) & set(cert_emails(identity.cert))
                and identity.cert.not_valid_after_utc > current.cert.not_valid_after_utc)
            # a usable certificate replaces a default that can do nothing (expired, wrong usage)
            or (current.fingerprint != fingerprint and usable_now(identity.cert, now) and not usable_now(current.cert, now))
        )
        batch = AtomicBatch()
        try:
            with batch:
                batch.make_dirs(self.folder)
                batch.write(key_path, encrypted)
                write_document(
                    self.folder / f"{fingerprint}.json",
                    "identity",
                    SCHEMA,
                    {
                        "fingerprint": fingerprint,
                        "certificate": _pem(identity.cert),
                        "chain": [_pem(c) for c in identity.chain],
                        "protection": protection,
                        "key_file": key_path.name,
                        "imported": dt.datetime.now(dt.timezone.utc).isoformat(),
                    },
                    batch=batch,
                )
                if becomes_default:
                    self.settings.set("default_identity", fingerprint, batch=batch)
                for path in also_remove:
                    batch.remove(path)
        except OSError as exc:
            raise store_error(key_path, exc, "Your certificate was not imported") from None
        return self.get(fingerprint)

    def remove(self, selector: str) -> StoredIdentity:
        stored = self.get(selector)
        try:
            with AtomicBatch() as batch:
                batch.remove(self.folder / f"{stored.fingerprint}.key")
                batch.remove(self.folder / f"{stored.fingerprint}.json")
                if stored.is_default:
                    remaining = [i for i in self.list() if i.fingerprint != stored.fingerprint]
                    newest = max(remaining, key=lambda i: i.cert.not_valid_after_utc, default=None)
                    self.settings.set("default_identity", newest.fingerprint if newest else None, batch=batch)
        except OSError as exc:
            raise store_error(self.folder / f"{stored.fingerprint}.key", exc, "Your certificate was not removed") from None
        self.secrets.delete(f"identity:{stored.fingerprint}")
        return stored

    def set_default(self, selector: str) -> None:
        if not selector.strip():
            raise IdentityNotFound("Name the certificate by its e-mail address or fingerprint.")
        self.settings.set("default_identity", self.get(selector).fingerprint)

    def export_certificate(self, selector: str | None) -> bytes:
        return self.get(selector).cert.public_bytes(serialization.Encoding.PEM)

    # -- certificate requests (identity_requests.py) ---------------------------------------------
    def new_request(self, email: str, name: str, use_ec: bool, ask_new: AskPassphrase | None) -> PendingRequest:
        from .identity_requests import new_request

        return new_request(self, email, name, use_ec, ask_new)

    def import_certificate(self, cert_path: Path, ask: AskPassphrase | None, *, now: dt.datetime | None = None) -> StoredIdentity:
        """Join a certificate returned by the authority to the key of a pending request."""
        from .identity_requests import import_certificate

        return import_certificate(self, cert_path, ask, now=now)

    # -- internals -----------------------------------------------------------------------------
    def _unlock(self, stored: StoredIdentity, ask: AskPassphrase | None) -> object:
        secret = self._secret(f"identity:{stored.fingerprint}", stored.protection, ask, f"your certificate ({', '.join(stored.emails)})")
        try:
            data = (self.folder / f"{stored.fingerprint}.key").read_bytes()
        except OSError:
            raise InputFileError(f"The key file of your certificate for {', '.join(stored.emails)} is missing; import the certificate again.") from None
        return decrypt_private_key(data, secret)

    def _secret(self, name: str, protection: str, ask: AskPassphrase | None, what: str) -> bytes:
        if protection == "keyring":
            secret = self.secrets.get(name)
            if secret is None:
                raise PassphraseError(
                    f"The secret that unlocks {what} is missing from the system keyring (was the "
                    "keyring reset?). Import your .p12 file again."
                )
            return secret
        if ask is None:
            raise PassphraseError(f"The passphrase for {what} is needed.")
        return ask(f"Passphrase for {what}: ")

    def _default_identity(self) -> StoredIdentity | None:
        default = self._default()
        return next((i for i in self.list() if i.fingerprint == default), None) if default else None

    def _default(self) -> str | None:
        value = self.settings.get("default_identity")
        return value if isinstance(value, str) and (self.folder / f"{value}.json").exists() else None
