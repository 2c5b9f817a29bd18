"""Certificate authorities the user trusts in addition to the operating system's.

Healthcare networks publish trust bundles (.p7b) of their authorities; a practice may run its
own CA. ``trust add`` keeps them here; every check uses them together with the system roots.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from .certs import describe, load_certificates
from .errors import CertificateError, UserError
from .jsonstore import read_document, save_document
from .system_trust import system_roots

SCHEMA = 1


@dataclass(frozen=True)
class TrustedCert:
    fingerprint: str
    cert: x509.Certificate
    added: str


class TrustStore:
    def __init__(self, home: Path, *, use_system: bool = True) -> None:
        self.path = home / "trust.json"
        self.use_system = use_system

    def list(self) -> list[TrustedCert]:
        doc = read_document(self.path, "trust", SCHEMA) or {"anchors": []}
        return [
            TrustedCert(a["fingerprint"], x509.load_pem_x509_certificate(a["certificate"].encode()), a["added"])
            for a in doc["anchors"]
        ]

    def anchors(self) -> list[x509.Certificate]:
        """The user's anchors and, unless disabled, the operating system's roots."""
        mine = [t.cert for t in self.list()]
        return mine + (list(system_roots()) if self.use_system else [])

    def add(self, path: Path) -> list[TrustedCert]:
        return self.add_certificates(load_certificates(path), where=str(path))

    def add_certificates(self, certs: list[x509.Certificate], *, where: str = "This file") -> list[TrustedCert]:
        """Trust these authorities (all are checked before anything is kept); returns the new ones."""
        existing = {t.fingerprint: t for t in self.list()}
        added = []
        for cert in certs:
            info = describe(cert)
            if not (info.is_ca or info.self_signed):
                raise CertificateError(
                    f"{where} contains a certificate for {info.display_name} that is not a certificate "
                    "authority. Trust authorities, not people: add their certificate as a contact."
                )
            fingerprint = cert.fingerprint(hashes.SHA256()).hex()
            if fingerprint not in existing:
                existing[fingerprint] = TrustedCert(fingerprint, cert, dt.datetime.now(dt.timezone.utc).isoformat())
                added.append(existing[fingerprint])
        self._save(list(existing.values()))
        return added

    def remove(self, selector: str) -> TrustedCert:
        wanted = selector.lower().replace(":", "")
        entries = self.list()
        match = [t for t in entries if t.fingerprint.startswith(wanted) or wanted in describe(t.cert).subject.lower()]
        if len(match) != 1:
            raise UserError(
                f"{'No' if not match else 'More than one'} trusted authority matches {selector}; "
                "'smimehelper trust list' shows their fingerprints."
            )
        self._save([t for t in entries if t is not match[0]])
        return match[0]

    def _save(self, entries: list[TrustedCert]) -> None:
        save_document(
            self.path, "trust", SCHEMA,
            {"anchors": [{"fingerprint": t.fingerprint, "added": t.added,
                          "certificate": t.cert.public_bytes(serialization.Encoding.PEM).decode()} for t in entries]},
        )
