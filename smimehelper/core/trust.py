"""Is a signer's certificate trusted? A chain to one of the user's trust anchors, checked with
pyhanko-certvalidator at the signing time; the signing usage by validation.find_usage_problem.

"Valid" (the mathematics holds, see cms/verify.py) and "trusted" are separate verdicts: a valid
signature by a certificate nobody vouches for proves only that the message was not changed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Collection, Sequence

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
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
from .names import plain_name
from .validation import Purpose, find_usage_problem


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def trust_problem(
    cert: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    at: dt.datetime,
    trusted_certs: Collection[str] = (),
) -> str | None:
    """None when ``cert`` chains to an anchor and may sign e-mail at ``at``; else the reason.

    ``trusted_certs``: SHA-256 fingerprints (lower-case hex) of certificates the user trusts
    themselves ("trust only this certificate"); such a signer needs no chain, but its usage and
    its validity at the signing time are still checked.
    """
    who = describe(cert)
    name = who.emails[0] if who.emails else who.display_name
    if trusted_certs and cert.fingerprint(hashes.SHA256()).hex() in trusted_certs:
        usage = find_usage_problem(cert, Purpose.SIGN, name)
        if usage is not None:
            return f"The certificate of {name} is not allowed to sign e-mail: {usage.reason}"
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            return f"The certificate of {name} was not valid when the message was signed ({at:%Y-%m-%d})."
        return None
    if not anchors:
        return (
            f"The certificate of {name} was issued by {plain_name(cert.issuer)}, which is not among your trusted "
            f"authorities (none is trusted yet), so it is not known whether {name} is who they claim to be. Trust "
            "it once (in the app: Trust...; on the command line: smimehelper trust add, or give it with --trust)."
        )
    context = ValidationContext(
        trust_roots=[_asn1(a) for a in anchors],
        other_certs=[_asn1(c) for c in intermediates],
        moment=at,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    usage = find_usage_problem(cert, Purpose.SIGN, name)
    if usage is not None:
        return f"The certificate of {name} is not allowed to sign e-mail: {usage.reason}"
    last: Exception | None = None
    try:
        # Usage is ours (validation.find_usage_problem: no KeyUsage/EKU = unrestricted); the
        # validator checks the path to an anchor at the signing time.
        asyncio.run(CertificateValidator(_asn1(cert), validation_context=context).async_validate_path())
        return None
    except (PathBuildingError, PathValidationError, ExpiredError, NotYetValidError, RevokedError, InvalidCertificateError) as exc:
        last = exc
    return _reason(last, name, plain_name(cert.issuer), at)


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
