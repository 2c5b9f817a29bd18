"""Is a CMS signature mathematically valid? ("trusted" is a separate verdict: see trust.py.)

Checks what Thunderbird checks: the message digest, the signature over the signed attributes,
the content type, the algorithms (SHA-1 and MD5 are no longer accepted) and a signing time that
does not lie in the future.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import algos, cms, x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.serialization import Encoding

from ..certs import cert_emails, name_text
from . import ber, oids

CLOCK_SKEW = dt.timedelta(minutes=5)
WEAK_DIGESTS = {"sha1", "md5"}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "md5": hashes.MD5,
}


@dataclass(frozen=True)
class SignatureCheck:
    valid: bool
    reason: str | None
    digest: str
    signer: x509.Certificate | None
    signer_subject: str
    signer_email: str | None
    signed_at: dt.datetime | None
    certificates: tuple[x509.Certificate, ...]  # all certificates the message carried
    capabilities: bytes | None  # DER SMIMECapabilities, for remembering what the signer reads


def message_certificates(choices: Sequence[cms.CertificateChoices]) -> tuple[x509.Certificate, ...]:
    """The message's certificates that parse completely; damaged ones are left out (a signer whose
    certificate is damaged then reads as "certificate not included", not as a crash)."""
    found = []
    for choice in choices:
        try:
            if choice.name != "certificate":
                continue
            der = choice.chosen.dump()
            asn1_x509.Certificate.load(der).native  # every field, as the validator will read them
            cert = x509.load_der_x509_certificate(der)
            cert.public_key()
            cert_emails(cert)
            found.append(cert)
        except (ValueError, TypeError, KeyError, UnicodeError, AttributeError):
            continue
    return tuple(found)


def check_signer(
    signer_info: cms.SignerInfo,
    certificates: tuple[x509.Certificate, ...],
    digests: dict[str, bytes],
    content_type: str,
    now: dt.datetime,
) -> SignatureCheck:
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    signer = _find_signer(signer_info["sid"], certificates)
    attrs = signer_info["signed_attrs"]
    signed_at, capabilities, claimed_digest, claimed_type = _attributes(attrs)
    base = dict(
        digest=digest_name,
        signer=signer,
        signer_subject=name_text(signer.subject) if signer else "",
        signer_email=(cert_emails(signer) or (None,))[0] if signer else None,
        signed_at=signed_at,
        certificates=certificates,
        capabilities=capabilities,
    )

    def verdict(valid: bool, reason: str | None = None) -> SignatureCheck:
        return SignatureCheck(valid=valid, reason=reason, **base)  # type: ignore[arg-type]

    if signer is None:
        return verdict(False, "The signer's certificate is not included in the message, so the signature cannot be checked.")
    if digest_name not in digests:
        return verdict(False, f"The signature uses the digest {digest_name}, which is not supported.")
    digest = digests[digest_name]
    has_attrs = bool(attrs.contents) if attrs is not None and attrs.contents is not None else False
    if has_attrs:
        if claimed_digest is None:
            return verdict(False, "The signature is damaged: it has no message digest.")
        if claimed_digest != digest:
            return verdict(False, "The message was changed after it was signed (its content no longer matches the signature).")
        if claimed_type is not None and claimed_type != content_type:
            return verdict(False, "The signature was made for a different kind of content.")
        signed_bytes = b"\x31" + ber.der_length(len(attrs.contents)) + attrs.contents
    else:
        signed_bytes = None
    problem = _verify_signature(signer_info, signer, digest_name, signed_bytes, digest)
    if problem:
        return verdict(False, problem)
    if digest_name in WEAK_DIGESTS or _signature_hash(signer_info) in WEAK_DIGESTS:
        return verdict(False, f"The signature uses {digest_name.upper().replace('SHA', 'SHA-')}, which is no longer accepted (it can be forged).")
    if signed_at is not None and signed_at > now + CLOCK_SKEW:
        return verdict(False, f"The signing time ({signed_at:%Y-%m-%d %H:%M} UTC) lies in the future; the signature is not valid.")
    return verdict(True)


def _find_signer(sid: cms.SignerIdentifier, certs: tuple[x509.Certificate, ...]) -> x509.Certificate | None:
    for cert in certs:
        parsed = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if ias["serial_number"].native == parsed.serial_number and ias["issuer"].hashable == parsed.issuer.hashable:
                return cert
        elif sid.name == "subject_key_identifier":
            if sid.chosen.native in {parsed.key_identifier, parsed.public_key.sha1}:
                return cert
    return None


def _attributes(attrs: cms.CMSAttributes | None) -> tuple[dt.datetime | None, bytes | None, bytes | None, str | None]:
    signed_at = capabilities = digest = None
    content_type = None
    if attrs is None or attrs.contents is None:
        return None, None, None, None
    for attr in attrs:
        kind = attr["type"].dotted
        values = attr["values"]
        if not len(values):
            continue
        if kind == oids.ATTR_SIGNING_TIME:
            value = values[0].native
            if isinstance(value, dt.datetime):
                signed_at = value.astimezone(dt.timezone.utc)
        elif kind == oids.ATTR_MESSAGE_DIGEST:
            digest = values[0].native
        elif kind == oids.ATTR_CONTENT_TYPE:
            content_type = values[0].dotted
        elif kind == oids.ATTR_SMIME_CAPABILITIES:
            capabilities = values[0].dump()
    return signed_at, capabilities, digest, content_type


def _signature_hash(signer_info: cms.SignerInfo) -> str | None:
    try:
        return signer_info["signature_algorithm"].hash_algo
    except (ValueError, KeyError):
        return None


def _verify_signature(
    signer_info: cms.SignerInfo,
    signer: x509.Certificate,
    digest_name: str,
    signed_bytes: bytes | None,
    content_digest: bytes,
) -> str | None:
    """None when the signature holds, else the reason."""
    algorithm: algos.SignedDigestAlgorithm = signer_info["signature_algorithm"]
    signature = signer_info["signature"].native
    key = signer.public_key()
    try:
        scheme = algorithm.signature_algo
    except ValueError:
        return f"The signature algorithm {algorithm['algorithm'].dotted} is not supported."
    hash_name = _signature_hash(signer_info) or digest_name
    if hash_name not in _HASHES:
        return f"The signature uses the digest {hash_name}, which is not supported."
    chosen = _HASHES[hash_name]()
    if signed_bytes is None:
        if scheme in ("ed25519", "ed448"):
            return "This Ed25519/Ed448 signature has no signed attributes, which smimehelper cannot check."
        data, chosen_for_call = content_digest, utils.Prehashed(chosen)
    else:
        data, chosen_for_call = signed_bytes, chosen
    try:
        if scheme == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), chosen_for_call)
        elif scheme == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            params = algorithm["parameters"]
            mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
            pss_hash = params["hash_algorithm"]["algorithm"].native
            if pss_hash not in _HASHES or mgf_hash not in _HASHES:
                return "The RSA-PSS parameters of this signature are not supported."
            pss = padding.PSS(mgf=padding.MGF1(_HASHES[mgf_hash]()), salt_length=params["salt_length"].native)
            chosen = _HASHES[pss_hash]()
            key.verify(signature, data, pss, utils.Prehashed(chosen) if signed_bytes is None else chosen)
        elif scheme == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(chosen_for_call))
        elif scheme == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        elif scheme == "ed448" and isinstance(key, ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            return "The signature algorithm does not match the signer's certificate."
    except InvalidSignature:
        return "The signature does not match: the message or its signature was altered, or it was not signed by this certificate."
    except (UnsupportedAlgorithm, ValueError, TypeError):
        return "The signature is damaged and cannot be checked."
    return None

