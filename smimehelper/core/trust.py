"""Is a signer's certificate trusted? A chain to one of the user's trust anchors, checked with
pyhanko-certvalidator at the signing time, for e-mail protection and a signing key usage.

"Valid" (the mathematics holds, see cms/verify.py) and "trusted" are separate verdicts: a valid
signature by a certificate nobody vouches for proves only that the message was not changed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)

from .certs import describe


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def trust_problem(
    cert: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    at: dt.datetime,
) -> str | None:
    """None when ``cert`` chains to an anchor and may sign e-mail at ``at``; else the reason."""
    who = describe(cert)
    name = who.emails[0] if who.emails else who.display_name
    if not anchors:
        return (
            f"No trusted certificate authority was given, so it is not known whether {name} is "
            "who they claim to be. Add your authority once with 'smimehelper trust add', or give it with --trust."
        )
    context = ValidationContext(
        trust_roots=[_asn1(a) for a in anchors],
        other_certs=[_asn1(c) for c in intermediates],
        moment=at,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    last: Exception | None = None
    for usage in ({"digital_signature"}, {"non_repudiation"}):
        validator = CertificateValidator(_asn1(cert), validation_context=context)
        try:
            asyncio.run(validator.async_validate_usage(key_usage=usage, extended_key_usage={"email_protection"}))
            return None
        except InvalidCertificateError as exc:
            last = exc
            if "key usage" not in str(exc).lower():
                break
        except (PathBuildingError, PathValidationError, ExpiredError, NotYetValidError, RevokedError) as exc:
            last = exc
            break
    return _reason(last, name, who.issuer, at)


def _reason(error: Exception | None, name: str, issuer: str, at: dt.datetime) -> str:
    when = f"{at:%Y-%m-%d}"
    if isinstance(error, RevokedError):
        return f"The certificate of {name} has been revoked by its authority; do not trust this signature."
    if isinstance(error, ExpiredError):
        return f"The certificate of {name} (or one above it) was expired when the message was signed ({when})."
    if isinstance(error, NotYetValidError):
        return f"The certificate of {name} (or one above it) was not yet valid when the message was signed ({when})."
    if isinstance(error, PathBuildingError):
        return f"The certificate of {name} was issued by {issuer}, which is not among your trusted authorities."
    text = str(error or "").lower()
    if "extended key usage" in text or "key usage" in text:
        return f"The certificate of {name} is not allowed to sign e-mail."
    if "expired" in text:
        return f"The certificate of {name} (or one above it) was expired when the message was signed ({when})."
    return f"The certificate of {name} could not be verified as trustworthy: {error}"
