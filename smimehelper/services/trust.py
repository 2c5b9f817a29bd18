"""Trust a colleague: the authority that issued their certificate, or only their certificate.

A colleague whose certificate comes from their practice's or hospital's own authority is "not
trusted" until the user says otherwise. Two ways, as in Thunderbird ("trust this CA to identify
e-mail users", or the certificate itself):

* :func:`trust_authority`: the authority becomes one of the user's trust anchors, so every
  certificate it issues, for anyone, is accepted as proof of who they are;
* :func:`trust_certificate`: only this one certificate is trusted (kept in the contact store;
  validation honours it for encrypting to it and for its signatures, and it vouches for nothing
  else).

Either way the user first compares a fingerprint with what the colleague reads out on the
phone: :class:`AuthorityOffer` and :class:`CertificateOffer` carry what to show. Nothing here
decides on its own that something is trustworthy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ..core.certs import describe, load_certificates, name_text
from ..core.contacts import ContactCert
from ..core.display import fingerprint_in_groups
from ..core.errors import CertificateError
from ..core.names import plain_name
from . import now as clock

if TYPE_CHECKING:
    from ..core.trust_store import TrustedCert
    from .stores import Stores

MAX_CHAIN = 8


def fingerprint_hex(cert: x509.Certificate) -> str:
    """The SHA-256 fingerprint as lower-case hex (how the stores key certificates)."""
    return cert.fingerprint(hashes.SHA256()).hex()


def fingerprint_groups(cert_or_hex: x509.Certificate | str) -> str:
    """The SHA-256 fingerprint in 16 groups of four, two lines of eight (core.display)."""
    text = fingerprint_hex(cert_or_hex) if isinstance(cert_or_hex, x509.Certificate) else cert_or_hex
    return fingerprint_in_groups(text)


@dataclass(frozen=True)
class AuthorityOffer:
    """The authority behind a colleague's certificate, as the user sees it before trusting it.

    ``authority`` is None when its certificate is not at hand (a signed e-mail carries the chain
    without the top authority): the user then needs its certificate file from the colleague.
    """

    email: str
    holder: str  # the colleague's name as their certificate says it
    name: str  # the authority in words ("Smith Practice CA (Smith Dental)")
    full_name: str  # the authority's whole name (RFC 4514), for the Details
    authority: x509.Certificate | None = None
    fingerprint: str = ""  # in groups, when the authority's certificate is known
    valid_until: dt.datetime | None = None
    top: bool = False  # the authority is a root (self-signed), not one issued by another
    already_trusted: bool = False


@dataclass(frozen=True)
class CertificateOffer:
    """A colleague's own certificate, as the user sees it before trusting only it."""

    email: str
    holder: str
    fingerprint: str  # in groups
    fingerprint_hex: str
    issuer: str  # in words
    valid_until: dt.datetime
    already_trusted: bool


def authority_offer(stores: Stores, cert: x509.Certificate, chain: Sequence[x509.Certificate] = (), email: str = "") -> AuthorityOffer:
    """The highest authority above ``cert`` whose certificate is known here (the contact's
    chain, every chain the data folder has seen), else only its name."""
    pool = {fingerprint_hex(c): c for c in (*chain, *stores.intermediates()) if describe(c).is_ca or c.issuer == c.subject}
    path = issuer_path(cert, list(pool.values()))
    info = describe(cert)
    who = email or (info.emails[0] if info.emails else info.display_name)
    trusted = {t.fingerprint for t in stores.trust.list()}
    if not path:
        return AuthorityOffer(who, info.display_name, plain_name(cert.issuer), name_text(cert.issuer))
    top = path[-1]
    return AuthorityOffer(
        who, info.display_name, plain_name(top.subject), name_text(top.subject), top, fingerprint_groups(top),
        top.not_valid_after_utc, top.issuer == top.subject, fingerprint_hex(top) in trusted,
    )


def authority_from_file(stores: Stores, cert: x509.Certificate, path: Path, chain: Sequence[x509.Certificate] = (),
                        email: str = "") -> AuthorityOffer:
    """The authority in a certificate file the colleague gave, checked to be the one that
    issued ``cert`` (directly or above its issuer); a clear error otherwise."""
    found = [c for c in load_certificates(path) if describe(c).is_ca or c.issuer == c.subject]
    info = describe(cert)
    who = email or (info.emails[0] if info.emails else info.display_name)
    if not found:
        raise CertificateError(
            f"{path.name} holds no authority's certificate. Ask {who} for the certificate of "
            f"{plain_name(cert.issuer)}, the authority that issued theirs."
        )
    known = [*chain, *stores.intermediates()]
    path_up = issuer_path(cert, [*found, *known])
    mine = [c for c in path_up if any(fingerprint_hex(c) == fingerprint_hex(f) for f in found)]
    if not mine:
        names = ", ".join(dict.fromkeys(plain_name(c.subject) for c in found))
        raise CertificateError(
            f"{path.name} holds the certificate of {names}, which did not issue the certificate of {who} "
            f"(that was {plain_name(cert.issuer)}). Nothing was trusted; ask {who} for the right file."
        )
    top = mine[-1]
    trusted = {t.fingerprint for t in stores.trust.list()}
    return AuthorityOffer(
        who, info.display_name, plain_name(top.subject), name_text(top.subject), top, fingerprint_groups(top),
        top.not_valid_after_utc, top.issuer == top.subject, fingerprint_hex(top) in trusted,
    )


def issuer_path(cert: x509.Certificate, candidates: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The authorities above ``cert``, nearest first, each proven by its signature on the one
    below (a matching name alone proves nothing); stops at a root or where none is known."""
    path: list[x509.Certificate] = []
    current = cert
    while len(path) < MAX_CHAIN and current.issuer != current.subject:
        parent = next((c for c in candidates if c.subject == current.issuer and _issued(current, c) and c not in path), None)
        if parent is None:
            break
        path.append(parent)
        current = parent
    return path


def _issued(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except Exception:  # wrong key, unsupported algorithm, name mismatch: not its issuer
        return False
    return True


def trust_authority(stores: Stores, offer: AuthorityOffer) -> TrustedCert | None:
    """Make the offered authority one of the user's trust anchors; None if it already was."""
    if offer.authority is None:
        raise CertificateError(
            f"The certificate of {offer.name} is not at hand, so it cannot be trusted. Ask {offer.email} "
            "for their authority's certificate file, or trust only their certificate."
        )
    added = stores.trust.add_certificates([offer.authority], where=f"The certificate of {offer.name}")
    return added[0] if added else None


def certificate_offer(stores: Stores, cert: x509.Certificate, email: str = "") -> CertificateOffer:
    """A colleague's own certificate, to compare before trusting only it."""
    info = describe(cert)
    who = email or (info.emails[0] if info.emails else info.display_name)
    return CertificateOffer(
        who, info.display_name, fingerprint_groups(cert), fingerprint_hex(cert), plain_name(cert.issuer),
        cert.not_valid_after_utc, fingerprint_hex(cert) in stores.contacts.directly_trusted(),
    )


def trust_certificate(stores: Stores, cert: x509.Certificate, chain: Sequence[x509.Certificate] = ()) -> list[ContactCert]:
    """Trust only this certificate (for every address in it). A signer not yet among the
    contacts (a signature nobody vouched for is not kept by itself) is added first."""
    fingerprint = fingerprint_hex(cert)
    if not any(e.fingerprint == fingerprint for e in stores.contacts.entries()):
        stores.contacts.add(cert, chain=tuple(chain), source="trusted after comparing its fingerprint")
    return stores.contacts.set_trusted_directly(fingerprint, True, when=clock().isoformat())


def stop_trusting_certificate(stores: Stores, cert: x509.Certificate) -> list[ContactCert]:
    """Back to needing an authority for this certificate."""
    return stores.contacts.set_trusted_directly(fingerprint_hex(cert), False)


def contact_for(stores: Stores, email: str, fingerprint: str | None = None) -> ContactCert | None:
    """The contact entry to offer trust for: the given certificate, else the newest of the address."""
    entries = stores.contacts.for_address(email)
    if fingerprint:
        wanted = fingerprint.lower().replace(":", "").replace(" ", "")
        entries = [e for e in entries if e.fingerprint == wanted]
    entries.sort(key=lambda e: (e.cert.not_valid_before_utc, e.cert.not_valid_after_utc), reverse=True)
    return entries[0] if entries else None
