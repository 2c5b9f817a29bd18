"""One status, with a reason in plain words, for any certificate and purpose.

Local checks first (validity period, key strength, usage, e-mail: no network needed), then the
chain to the user's trust anchors and revocation (CRL distribution points and OCSP, fetched by
pyhanko-certvalidator). Offline, revocation is "unknown": reported, and fatal only when the user
asked for strict revocation checking.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)

from .certs import cert_emails, describe
from .names import plain_name
from .validation import Purpose, find_problem

FETCH_TIMEOUT_SECONDS = 5


class Status(Enum):
    VALID = "valid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    UNTRUSTED_ISSUER = "untrusted_issuer"
    WRONG_USAGE = "wrong_usage"
    NO_EMAIL = "no_email"
    WEAK_KEY = "weak_key"
    REVOCATION_UNKNOWN = "revocation_unknown"


_LOCAL_CODES = {
    "expired": Status.EXPIRED,
    "not_yet_valid": Status.NOT_YET_VALID,
    "weak_key": Status.WEAK_KEY,
    "unsupported_key": Status.WEAK_KEY,
    "wrong_usage": Status.WRONG_USAGE,
    "email_mismatch": Status.NO_EMAIL,
}


@dataclass(frozen=True)
class CertStatus:
    status: Status
    reason: str | None

    def usable(self, strict_revocation: bool = False) -> bool:
        if self.status is Status.VALID:
            return True
        return self.status is Status.REVOCATION_UNKNOWN and not strict_revocation


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def certificate_status(
    cert: x509.Certificate,
    purpose: Purpose,
    now: dt.datetime,
    anchors: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate] = (),
    *,
    email: str | None = None,
    fetch: bool = True,
    strict_revocation: bool = False,
    own: bool = False,
    trusted_directly: bool = False,
) -> CertStatus:
    """The status of ``cert`` for ``purpose`` at ``now``.

    ``trusted_directly``: the user chose to trust this very certificate (they compared its
    fingerprint with its owner), so no authority has to vouch for it: the local checks (dates,
    usage, key, address) still apply, the chain to an anchor is not needed. It never makes the
    certificate an authority for anything else.
    """
    info = describe(cert)
    who = email or (info.emails[0] if info.emails else info.display_name)
    if not cert_emails(cert):
        return CertStatus(Status.NO_EMAIL, f"The certificate of {info.display_name} contains no e-mail address, so it cannot be used for e-mail.")
    problem = find_problem(cert, purpose, now, email, own=own)
    if problem is not None:
        return CertStatus(_LOCAL_CODES.get(problem.code, Status.WRONG_USAGE), problem.reason)
    if trusted_directly:
        return CertStatus(Status.VALID, None)
    if not anchors:
        return CertStatus(Status.UNTRUSTED_ISSUER, f"The certificate of {who} was issued by {plain_name(cert.issuer)}, which is not among your trusted authorities (none is trusted yet). Trust it once (in the app: Trust...; on the command line: smimehelper trust add).")
    try:
        soft_failures = asyncio.run(_validate(cert, purpose, now, anchors, intermediates, fetch, strict_revocation))
    except RevokedError:
        return CertStatus(Status.REVOKED, f"The certificate of {who} has been revoked by its authority; do not use it. Ask {who} for their new certificate.")
    except ExpiredError:
        return CertStatus(Status.EXPIRED, f"A certificate above {who}'s in the chain has expired; {who}'s certificate cannot be trusted now.")
    except NotYetValidError:
        return CertStatus(Status.NOT_YET_VALID, f"A certificate in the chain of {who} is not valid yet; check the computer's date.")
    except InsufficientRevinfoError:
        return CertStatus(Status.REVOCATION_UNKNOWN, f"Whether the certificate of {who} has been revoked could not be checked (offline, or its authority did not answer), and strict revocation checking is on.")
    except PathBuildingError:
        return CertStatus(Status.UNTRUSTED_ISSUER, f"The certificate of {who} was issued by {plain_name(cert.issuer)}, which is not among your trusted authorities.")
    except InvalidCertificateError as exc:
        if "usage" in str(exc).lower():
            return CertStatus(Status.WRONG_USAGE, f"The certificate of {who} may not be used to {'sign' if purpose is Purpose.SIGN else 'encrypt'} e-mail.")
        return CertStatus(Status.UNTRUSTED_ISSUER, f"The certificate of {who} could not be verified: {exc}")
    except PathValidationError as exc:
        if "revo" in str(exc).lower():
            return CertStatus(Status.REVOCATION_UNKNOWN, f"Whether the certificate of {who} has been revoked could not be checked: {exc}")
        return CertStatus(Status.UNTRUSTED_ISSUER, f"The certificate of {who} could not be verified: {exc}")
    if not fetch and _declares_revocation(cert):
        return CertStatus(Status.REVOCATION_UNKNOWN, f"The certificate of {who} is valid; whether it has been revoked was not checked (offline).")
    if soft_failures:
        return CertStatus(Status.REVOCATION_UNKNOWN, f"The certificate of {who} is valid, but whether it has been revoked could not be checked (offline, or its authority did not answer).")
    return CertStatus(Status.VALID, None)


def _declares_revocation(cert: x509.Certificate) -> bool:
    for kind in (x509.CRLDistributionPoints, x509.AuthorityInformationAccess):
        try:
            cert.extensions.get_extension_for_class(kind)
            return True
        except x509.ExtensionNotFound:
            continue
    return False


async def _validate(cert, purpose, now, anchors, intermediates, fetch, strict) -> list[Exception]:  # type: ignore[no-untyped-def]
    if not fetch:  # offline: no fetchers, and aiohttp (~0.15 s to import) is not loaded at all
        context = ValidationContext(
            trust_roots=[_asn1(a) for a in anchors], other_certs=[_asn1(c) for c in intermediates], moment=now,
            allow_fetching=False, revocation_mode="hard-fail" if strict else "soft-fail",
        )
        await CertificateValidator(_asn1(cert), validation_context=context).async_validate_path()
        return list(context.soft_fail_exceptions)
    # Imported here: aiohttp costs ~0.15 s at start-up, and most runs never validate online.
    from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

    backend = AIOHttpFetcherBackend(per_request_timeout=FETCH_TIMEOUT_SECONDS)
    async with backend as fetchers:
        context = ValidationContext(
            trust_roots=[_asn1(a) for a in anchors],
            other_certs=[_asn1(c) for c in intermediates],
            moment=now,
            allow_fetching=fetch,
            fetchers=fetchers if fetch else None,
            revocation_mode="hard-fail" if strict else "soft-fail",
        )
        # Usage was checked by find_problem (validation.find_usage_problem); only the path here.
        await CertificateValidator(_asn1(cert), validation_context=context).async_validate_path()
        return list(context.soft_fail_exceptions)
