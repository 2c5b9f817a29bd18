"""Is a certificate an e-mail certificate at all, and if not, what is it for?

A user who picks the wrong file from their certificate provider's download page (the login or
"client authentication" certificate, a web server certificate) must learn it when importing,
not when the first message fails. The rule is core/validation.py's (RFC 5280 4.2.1.3 and
4.2.1.12, RFC 8550 4.4.2 and 4.4.4: an absent KeyUsage or ExtendedKeyUsage does not restrict; a
present EKU must hold emailProtection or anyExtendedKeyUsage); this module only asks it for
both purposes and names what the certificate is meant for instead.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from .certs import describe
from .validation import Purpose, find_problem

# What each extended key usage is for, in words (with its article).
_EKU_PURPOSES: dict[str, str] = {
    ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string: "a login certificate (client authentication)",
    ExtendedKeyUsageOID.SERVER_AUTH.dotted_string: "a web server certificate (TLS server authentication)",
    ExtendedKeyUsageOID.CODE_SIGNING.dotted_string: "a code-signing certificate (for signing programs)",
    ExtendedKeyUsageOID.TIME_STAMPING.dotted_string: "a time-stamping certificate",
    ExtendedKeyUsageOID.OCSP_SIGNING.dotted_string: "a certificate for signing revocation answers (OCSP)",
    "1.3.6.1.4.1.311.20.2.2": "a smart-card login certificate (Windows logon)",
    "1.3.6.1.5.5.7.3.36": "a document-signing certificate",
    "1.3.6.1.4.1.311.10.3.12": "a document-signing certificate (Microsoft Office)",
    "1.2.840.113583.1.1.5": "a PDF-signing certificate (Adobe)",
    "1.3.6.1.5.5.7.3.17": "a VPN certificate (IPsec)",
    "1.3.6.1.5.5.7.3.5": "a VPN certificate (IPsec)",
    "1.3.6.1.5.5.7.3.6": "a VPN certificate (IPsec)",
    "1.3.6.1.5.5.7.3.7": "a VPN certificate (IPsec)",
    "1.3.6.1.5.2.3.5": "a Kerberos domain controller certificate",
}

_ADVICE = (
    "Ask your certificate provider for an S/MIME (e-mail protection) certificate, or pick the "
    "e-mail certificate if they gave you several files. Nothing was imported."
)


def email_usage_problem(cert: x509.Certificate) -> str | None:
    """Why ``cert`` can be used for e-mail in no way (neither to sign nor to receive encrypted
    mail), saying what it is for instead; None when it serves at least one of them.

    Only the usage decides here: validity dates are judged elsewhere (an expired certificate
    is still imported, to open old mail), so the question is asked at its first valid moment.
    """
    at = cert.not_valid_before_utc
    sign = find_problem(cert, Purpose.SIGN, at, own=True)
    encrypt = find_problem(cert, Purpose.ENCRYPT, at, own=True)
    if sign is None or encrypt is None or sign.code != "wrong_usage" or encrypt.code != "wrong_usage":
        return None
    purposes = _eku_purposes(cert)
    if purposes:
        what = purposes[0] + "".join(f", also {p}" for p in purposes[1:])
        return f"This is {what}, not an e-mail certificate: it cannot sign or encrypt e-mail. {_ADVICE}"
    allowed = ", ".join(describe(cert).key_usage) or "nothing"
    return (
        f"This certificate's key may only be used for {_ku_purpose(cert)}, neither for signing "
        f"nor for encrypting e-mail (its key usage allows: {allowed}). {_ADVICE}"
    )


def usable_now(cert: x509.Certificate, now: dt.datetime) -> bool:
    """Whether ``cert`` can sign or receive encrypted e-mail at ``now`` (dates included)."""
    return (
        find_problem(cert, Purpose.SIGN, now, own=True) is None
        or find_problem(cert, Purpose.ENCRYPT, now, own=True) is None
    )


def _eku_purposes(cert: x509.Certificate) -> list[str]:
    """What the EKU says the certificate is for, when the EKU is what rules e-mail out."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return []
    if ExtendedKeyUsageOID.EMAIL_PROTECTION in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku:
        return []  # the key usage is the obstacle
    found: list[str] = []
    for oid in eku:
        text = _EKU_PURPOSES.get(oid.dotted_string, f"a certificate for another purpose ({oid.dotted_string})")
        if text not in found:
            found.append(text)
    return found


def _ku_purpose(cert: x509.Certificate) -> str:
    usage = set(describe(cert).key_usage)
    if usage & {"key_cert_sign", "crl_sign"}:
        return "issuing certificates (it belongs to a certificate authority)"
    if usage == {"data_encipherment"}:
        return "encrypting data directly"
    if "key_agreement" in usage:
        return "key agreement of a kind mail programs do not use with this key"
    return "other purposes"
