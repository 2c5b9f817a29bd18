"""Names of certificate holders and authorities in words a person reads, not RFC 4514 text.

"O=Smith Dental,CN=Smith Practice CA" is what a certificate says; a dentist reads "Smith Practice
CA (Smith Dental)". The full name stays available (``certs.name_text``) for the Details.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from .certs import name_text


def plain_name(name: x509.Name) -> str:
    """The common name, with the organisation in brackets when it adds something; the full
    RFC 4514 text only when the name has neither."""
    common = _first(name, NameOID.COMMON_NAME)
    organisation = _first(name, NameOID.ORGANIZATION_NAME)
    if common and organisation and organisation.lower() not in common.lower():
        return f"{common} ({organisation})"
    if common or organisation:
        return common or organisation  # type: ignore[return-value]
    email = _first(name, NameOID.EMAIL_ADDRESS)
    return email or name_text(name) or "an unnamed authority"


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value).strip() or None if values else None
