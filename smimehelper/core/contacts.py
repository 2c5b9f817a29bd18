"""Correspondents' certificates, and what their mail programs said they can read.

Certificates come from files (.pem .cer .crt .der .p7b .p7c) or from signed mail, which also
brings the signer's chain, SMIMECapabilities and signing time. An address may have several
certificates (a renewed one, a second device): all are kept; the newest usable one encrypts.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from .certs import cert_emails, describe
from .errors import AddressError, CertificateError, UserError
from .jsonstore import read_document, save_document

if TYPE_CHECKING:
    from .cert_status import CertStatus  # the validator: not loaded to read the contacts

SCHEMA = 1


@dataclass(frozen=True)
class ContactCert:
    email: str
    fingerprint: str
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    capabilities: bytes | None
    signing_time: dt.datetime | None
    source: str
    added: str
    trusted_directly: str | None = None
    """When the user chose to trust this very certificate (ISO time), having compared its
    fingerprint with its owner; None when only an authority can vouch for it."""


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


class ContactStore:
    def __init__(self, home: Path) -> None:
        self.path = home / "contacts.json"

    def entries(self) -> list[ContactCert]:
        doc = read_document(self.path, "contacts", SCHEMA) or {"entries": []}
        found = []
        for e in doc["entries"]:
            found.append(
                ContactCert(
                    email=e["email"],
                    fingerprint=e["fingerprint"],
                    cert=x509.load_pem_x509_certificate(e["certificate"].encode()),
                    chain=tuple(x509.load_pem_x509_certificate(c.encode()) for c in e.get("chain", [])),
                    capabilities=base64.b64decode(e["capabilities"]) if e.get("capabilities") else None,
                    signing_time=dt.datetime.fromisoformat(e["signing_time"]) if e.get("signing_time") else None,
                    source=e.get("source", ""),
                    added=e.get("added", ""),
                    trusted_directly=e.get("trusted_directly") or None,
                )
            )
        return sorted(found, key=lambda c: (c.email, -c.cert.not_valid_after_utc.timestamp()))

    def for_address(self, email: str) -> list[ContactCert]:
        return [c for c in self.entries() if c.email == email.lower()]

    def add(
        self,
        cert: x509.Certificate,
        *,
        chain: Sequence[x509.Certificate] = (),
        capabilities: bytes | None = None,
        signing_time: dt.datetime | None = None,
        source: str = "",
    ) -> list[ContactCert]:
        return self.add_all([(cert, tuple(chain), capabilities, signing_time, source)])

    def add_all(
        self,
        found: Sequence[tuple[x509.Certificate, Sequence[x509.Certificate], bytes | None, dt.datetime | None, str]],
    ) -> list[ContactCert]:
        """Add several certificates (cert, chain, capabilities, signing time, source) in one
        write: all of them are kept, or (a full disk, an error) none."""
        entries = self.entries()
        added: list[ContactCert] = []
        for cert, chain, capabilities, signing_time, source in found:
            added += self._merge(entries, cert, chain=chain, capabilities=capabilities, signing_time=signing_time, source=source)
        if added:
            self._save(entries)
        return added

    def _merge(
        self,
        entries: list[ContactCert],
        cert: x509.Certificate,
        *,
        chain: Sequence[x509.Certificate],
        capabilities: bytes | None,
        signing_time: dt.datetime | None,
        source: str,
    ) -> list[ContactCert]:
        emails = cert_emails(cert)
        if not emails:
            raise CertificateError(
                f"The certificate of {describe(cert).display_name} contains no e-mail address, so it "
                "cannot be used as a contact's certificate."
            )
        if describe(cert).is_ca:
            raise CertificateError(
                "This is a certificate authority, not a person's certificate. To trust an authority, "
                "use 'smimehelper trust add'."
            )
        fingerprint = cert.fingerprint(hashes.SHA256()).hex()
        now = dt.datetime.now(dt.timezone.utc).isoformat()
        added = []
        for email in emails:
            old = next((e for e in entries if e.email == email and e.fingerprint == fingerprint), None)
            if old is not None:
                newer = signing_time is not None and (old.signing_time is None or signing_time > old.signing_time)
                if not newer:
                    continue
                entries.remove(old)
            entry = ContactCert(email, fingerprint, cert, tuple(chain), capabilities if old is None or capabilities else old.capabilities,
                                signing_time, source or (old.source if old else ""), old.added if old else now,
                                old.trusted_directly if old else None)
            entries.append(entry)
            added.append(entry)
        return added

    def remove(self, email: str, fingerprint: str | None = None) -> int:
        entries = self.entries()
        keep = [e for e in entries if not (e.email == email.lower() and (fingerprint is None or e.fingerprint.startswith(fingerprint.lower().replace(":", ""))))]
        if len(keep) == len(entries):
            raise AddressError(f"There is no contact certificate for {email}.")
        self._save(keep)
        return len(entries) - len(keep)

    def set_trusted_directly(self, fingerprint: str, trusted: bool, *, when: str | None = None) -> list[ContactCert]:
        """Trust (or stop trusting) the certificate with this SHA-256 fingerprint itself, for
        every address it is stored under; returns the entries changed."""
        wanted = fingerprint.lower().replace(":", "").replace(" ", "")
        stamp = (when or dt.datetime.now(dt.timezone.utc).isoformat()) if trusted else None
        entries = self.entries()
        changed = []
        for index, entry in enumerate(entries):
            if entry.fingerprint == wanted and (entry.trusted_directly is None) == trusted:
                entries[index] = replace(entry, trusted_directly=stamp)
                changed.append(entries[index])
        if not any(e.fingerprint == wanted for e in entries):
            raise AddressError("That certificate is not among your contacts (any more); import it first.")
        if changed:
            self._save(entries)
        return changed

    def directly_trusted(self) -> frozenset[str]:
        """Fingerprints (lower-case hex) of the certificates the user trusts themselves."""
        return frozenset(e.fingerprint for e in self.entries() if e.trusted_directly)

    def export(self, email: str) -> bytes:
        found = self.for_address(email)
        if not found:
            raise AddressError(f"There is no contact certificate for {email}.")
        return "".join(_pem(c.cert) for c in found).encode("ascii")

    def best_for_encryption(self, email: str, status_of: Callable[[ContactCert], CertStatus], strict: bool) -> tuple[ContactCert, CertStatus]:
        """The newest certificate of ``email`` that may encrypt now; else an error naming why."""
        found = self.for_address(email)
        if not found:
            raise AddressError(
                f"There is no certificate for {email}, so the message cannot be encrypted to them. "
                f"Ask {email} for a signed e-mail or their certificate file, and add it with "
                "'smimehelper contacts import'."
            )
        found.sort(key=lambda c: (c.cert.not_valid_before_utc, c.cert.not_valid_after_utc), reverse=True)
        first: CertStatus | None = None
        for candidate in found:
            status = status_of(candidate)
            if status.usable(strict):
                return candidate, status
            first = first or status
        assert first is not None
        raise CertificateError(first.reason or f"The certificate for {email} cannot be used.")

    def _save(self, entries: list[ContactCert]) -> None:
        save_document(
            self.path, "contacts", SCHEMA,
            {"entries": [
                {"email": e.email, "fingerprint": e.fingerprint, "certificate": _pem(e.cert),
                 "chain": [_pem(c) for c in e.chain],
                 "capabilities": base64.b64encode(e.capabilities).decode() if e.capabilities else None,
                 "signing_time": e.signing_time.isoformat() if e.signing_time else None,
                 "source": e.source, "added": e.added, "trusted_directly": e.trusted_directly}
                for e in entries]},
        )


class NothingToImport(UserError):
    pass
