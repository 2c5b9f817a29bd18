"""Certificates in words: what one is for, who issued it, its status; the technical terms
(key usage names, full RFC 4514 names) only for the Details.

Shared by Contacts, My certificates and the first-run assistant, so a certificate is
described the same way everywhere and two certificates can be told apart at a glance.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509

from ..core.certs import CertInfo, describe
from ..core.names import plain_name
from ..core.validation import Purpose, find_usage_problem
from .widgets import visible

STATUS_WORDS = {
    "valid": "Valid",
    "revocation_unknown": "Valid (revocation not checked)",
    "expired": "Expired",
    "not_yet_valid": "Not valid yet",
    "revoked": "Revoked",
    "untrusted_issuer": "Issuer not trusted",
    "wrong_usage": "Not for e-mail encryption",
    "no_email": "No e-mail address",
    "weak_key": "Weak key",
    "checking": "Checking...",
}

_USAGE_WORDS = {
    "digital_signature": "digital signature",
    "content_commitment": "non-repudiation",
    "key_encipherment": "key encipherment",
    "data_encipherment": "data encipherment",
    "key_agreement": "key agreement",
    "key_cert_sign": "certificate signing",
    "crl_sign": "CRL signing",
    "encipher_only": "encipher only",
    "decipher_only": "decipher only",
}
_EKU_PURPOSES = {
    "emailProtection": "e-mail",
    "clientAuth": "logging in (client authentication)",
    "serverAuth": "web servers (TLS)",
    "codeSigning": "signing software",
    "timeStamping": "time stamps",
    "OCSPSigning": "revocation answers (OCSP)",
    "anyExtendedKeyUsage": "any purpose",
}


def purpose_text(cert: x509.Certificate) -> str:
    """What the certificate can do for e-mail, in words: "E-mail: signing and encryption",
    "E-mail: signing only", or "Not for e-mail: logging in (client authentication)"."""
    sign = find_usage_problem(cert, Purpose.SIGN, "it") is None
    encrypt = find_usage_problem(cert, Purpose.ENCRYPT, "it") is None
    if sign and encrypt:
        return "E-mail: signing and encryption"
    if sign:
        return "E-mail: signing only (cannot receive encrypted mail)"
    if encrypt:
        return "E-mail: encryption only (cannot sign)"
    names = [_EKU_PURPOSES.get(name, name) for name in describe(cert).extended_key_usage]
    return "Not for e-mail" + (f": {', '.join(dict.fromkeys(names))}" if names else "")


def for_email(cert: x509.Certificate) -> bool:
    """Whether the certificate can sign or receive encrypted e-mail at all (dates aside)."""
    return not purpose_text(cert).startswith("Not for e-mail")


def usage_text(info: CertInfo) -> str:
    """The technical usage, for the Details: "RSA 2048 key; key usage: digital signature,
    key encipherment; extended key usage: emailProtection"."""
    usages = ", ".join(_USAGE_WORDS.get(u, u) for u in info.key_usage) or "not restricted"
    extended = ", ".join(info.extended_key_usage) or "not restricted"
    return f"{info.key_type} key; key usage: {usages}; extended key usage: {extended}"


def issuer_text(cert: x509.Certificate) -> str:
    """The issuing authority in words ("Smith Practice CA (Smith Dental)")."""
    return plain_name(cert.issuer)


def chain_text(info: CertInfo, chain: Sequence[CertInfo]) -> str:
    """The issuer chain as far as it is known, one authority per line, nearest first."""
    lines: list[str] = []
    issuer = info.issuer
    seen = {info.subject}
    by_subject = {c.subject: c for c in chain}
    while True:
        parent = by_subject.get(issuer)
        if parent is None:
            lines.append(f"issued by {visible(issuer)}")
            break
        lines.append(f"issued by {visible(parent.display_name)}" + (" (root)" if parent.self_signed else ""))
        if parent.self_signed or parent.subject in seen:
            break
        seen.add(parent.subject)
        issuer = parent.issuer
    return "\n".join(lines)


__all__ = ["STATUS_WORDS", "chain_text", "for_email", "issuer_text", "purpose_text", "usage_text"]
