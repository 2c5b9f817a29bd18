"""Can this certificate be used for this purpose now?

Checks that need nothing but the certificate itself and the clock: validity period, key usage,
extended key usage, key strength and the e-mail address. They run before a message is built, so
that a user learns *which* colleague's certificate is the problem and what to do, instead of a
recipient later seeing a message their mail program refuses.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import Enum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from .certs import cert_emails, describe
from .errors import CertificateError

MIN_RSA_BITS = 2048
SUPPORTED_CURVES = ("secp256r1", "secp384r1", "secp521r1")


class Purpose(Enum):
    SIGN = "sign"
    ENCRYPT = "encrypt"


@dataclass(frozen=True)
class Problem:
    """Why a certificate cannot be used; ``code`` is stable for programs, ``reason`` for people."""

    code: str
    reason: str


def find_problem(
    cert: x509.Certificate,
    purpose: Purpose,
    now: dt.datetime,
    email: str | None = None,
    *,
    own: bool = False,
) -> Problem | None:
    """Return the first reason ``cert`` cannot serve ``purpose`` at ``now``, or None.

    ``own`` marks the user's own certificate: the advice then points to the certificate
    provider instead of asking a colleague.
    """
    problem = _find_problem(cert, purpose, now, email)
    if problem is None or not own:
        return problem
    reason = re.sub(r"The certificate for \S+", "Your certificate", problem.reason, count=1)
    reason = re.sub(r"(ask|Ask) \S+ for their (new one|encryption certificate|own certificate)",
                    "get a suitable certificate from your certificate provider", reason)
    return Problem(problem.code, reason)


def _find_problem(
    cert: x509.Certificate, purpose: Purpose, now: dt.datetime, email: str | None
) -> Problem | None:
    info = describe(cert)
    who = email or (info.emails[0] if info.emails else info.display_name)
    if now < info.not_before:
        return Problem(
            "not_yet_valid",
            f"The certificate for {who} is not valid before {info.not_before:%Y-%m-%d}; "
            "check the computer's date or wait until then.",
        )
    if now > info.not_after:
        advice = f"ask {who} for their new one"
        return Problem(
            "expired",
            f"The certificate for {who} expired on {info.not_after:%Y-%m-%d}; {advice}.",
        )
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            return Problem(
                "weak_key",
                f"The certificate for {who} has a weak {key.key_size}-bit RSA key that is no longer "
                "safe; a new certificate is needed.",
            )
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in SUPPORTED_CURVES:
            return Problem(
                "unsupported_key",
                f"The certificate for {who} uses the curve {key.curve.name}, which mail programs "
                "do not support.",
            )
    else:
        return Problem(
            "unsupported_key",
            f"The certificate for {who} has a {info.key_type} key; S/MIME needs RSA or EC.",
        )
    usage_problem = find_usage_problem(cert, purpose, who)
    if usage_problem:
        return usage_problem
    if email is not None and email.lower() not in cert_emails(cert):
        listed = ", ".join(cert_emails(cert)) or "no e-mail address"
        return Problem(
            "email_mismatch",
            f"The certificate given for {email} is issued to {listed}; ask {email} for their own "
            "certificate.",
        )
    return None


def require_usable(
    cert: x509.Certificate,
    purpose: Purpose,
    now: dt.datetime,
    email: str | None = None,
    *,
    own: bool = False,
) -> None:
    """Raise :class:`CertificateError` with the reason when ``cert`` cannot serve ``purpose``."""
    problem = find_problem(cert, purpose, now, email, own=own)
    if problem is not None:
        raise CertificateError(problem.reason)


def find_usage_problem(cert: x509.Certificate, purpose: Purpose, who: str) -> Problem | None:
    """The one place the usage rules live (RFC 5280 4.2.1.3 and 4.2.1.12, RFC 8550 4.4.2 and 4.4.4).

    A certificate without a KeyUsage or without an ExtendedKeyUsage extension is unrestricted in
    that respect (NSS and Thunderbird rely on it, and so do their test corpora); an EKU that is
    present must hold emailProtection or anyExtendedKeyUsage; a KeyUsage that is present must
    allow signing (digitalSignature or nonRepudiation) for signatures, and key encipherment (RSA)
    or key agreement (EC) for encryption. The certificate validator checks only the path: its
    own usage check would refuse certificates without these extensions.
    """
    key = cert.public_key()
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    if eku is not None and not (
        ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
        or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku
    ):
        return Problem(
            "wrong_usage",
            f"The certificate for {who} is not meant for e-mail (it lacks the e-mail protection "
            "usage); ask for an S/MIME (e-mail) certificate.",
        )
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None  # no restriction stated: RFC 5280 allows every usage
    if purpose is Purpose.SIGN:
        if not (ku.digital_signature or ku.content_commitment):
            return Problem(
                "wrong_usage",
                f"The certificate for {who} may not be used for signing; a certificate with the "
                "digital signature usage is needed.",
            )
        return None
    if isinstance(key, rsa.RSAPublicKey) and not ku.key_encipherment:
        return Problem(
            "wrong_usage",
            f"The certificate for {who} may not be used for encryption (it is for signing only); "
            f"ask {who} for their encryption certificate.",
        )
    if isinstance(key, ec.EllipticCurvePublicKey) and not ku.key_agreement:
        return Problem(
            "wrong_usage",
            f"The certificate for {who} may not be used for encryption (its EC key lacks the key "
            f"agreement usage); ask {who} for their encryption certificate.",
        )
    return None
