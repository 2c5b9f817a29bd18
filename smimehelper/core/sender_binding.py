"""Does a signature vouch for the sender the reader sees? (RFC 8550 section 3, RFC 5322 3.6)

A reader believes the From line. A valid signature by eve@evil.org proves nothing about a From
line that reads ``"boss@bank.example" <eve@evil.org>``, or that holds two mailboxes, or that
comes twice. So a signature vouches for the sender only when there is exactly one From header
with exactly one mailbox, and every e-mail address that appears anywhere in it, the display
name included, belongs to one valid signer's certificate. Addresses are looked for after NFKC
normalisation, so a full-width "＠" in a display name counts as the "@" it looks like.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from email.headerregistry import AddressHeader
from email.policy import default as default_policy

from cryptography import x509

from .certs import cert_emails

_ADDRESS_LIKE = re.compile(r"[^\s<>()\[\]\"',;:@]+@[^\s<>()\[\]\"',;:@]+")


def addresses_in(text: str) -> set[str]:
    """Every address-like token in ``text`` (lower case), after NFKC normalisation."""
    folded = unicodedata.normalize("NFKC", text)
    return {m.group(0).rstrip(".").lower() for m in _ADDRESS_LIKE.finditer(folded)}


def _mailboxes(value: str) -> int | None:
    """How many mailboxes the From value holds (groups counted by their members); None when it
    does not parse cleanly."""
    try:
        header = default_policy.header_factory("From", value)
    except Exception:  # noqa: BLE001 (the parser raises many kinds on hostile input)
        return None
    if not isinstance(header, AddressHeader) or header.defects:
        return None
    return len(header.addresses)


def sender_problem(from_values: Sequence[str], signers: Sequence[x509.Certificate]) -> str | None:
    """None when one valid signer vouches for the From line; else the sentence saying why not.

    ``from_values`` are the From headers as the reader sees them (encoded words decoded);
    ``signers`` the certificates of the valid signatures.
    """
    signer_emails = sorted({e for cert in signers for e in cert_emails(cert)})
    signed_by = ", ".join(signer_emails) or "a certificate without an e-mail address"
    if not signers:
        return None  # no valid signature: its own reason already says so
    if not from_values or not any(v.strip() for v in from_values):
        return f"Signed by {signed_by}, but the message shows no sender (its From line is missing or empty)."
    if len(from_values) > 1:
        shown = "; ".join(f'"{v}"' for v in from_values)
        return f"Signed by {signed_by}, but the message shows {len(from_values)} senders: {shown}."
    value = from_values[0]
    count = _mailboxes(value)
    if count != 1:
        what = "cannot be read as one address" if count is None else f"holds {count} addresses"
        return f'Signed by {signed_by}, but the sender shown is "{value}", which {what}.'
    shown = addresses_in(value)
    if not shown:
        return f'Signed by {signed_by}, but the sender shown is "{value}", which holds no e-mail address.'
    for cert in signers:
        if shown <= set(cert_emails(cert)):
            return None
    return f'Signed by {signed_by}, but the sender shown is "{value}".'
