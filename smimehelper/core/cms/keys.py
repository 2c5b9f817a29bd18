"""Recover the content-encryption key from RecipientInfos with one of our private keys.

The RecipientInfo is chosen by matching our certificates (issuerAndSerialNumber or
subjectKeyIdentifier), never by trying the first one: a message to a group lists everyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import cms, core, keys as asn1_keys, x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x448, x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from ..errors import DecryptionError, MessageFormatError
from ..identity import Identity
from . import ber, oids

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_WRAP_KEK_BYTES = {
    oids.AES128_WRAP: 16, oids.AES192_WRAP: 24, oids.AES256_WRAP: 32,
    "2.16.840.1.101.3.4.1.8": 16, "2.16.840.1.101.3.4.1.28": 24, "2.16.840.1.101.3.4.1.48": 32,
}
_WRAP_WITH_PADDING = {"2.16.840.1.101.3.4.1.8", "2.16.840.1.101.3.4.1.28", "2.16.840.1.101.3.4.1.48"}


@dataclass(frozen=True)
class RecoveredKey:
    cek: bytes
    identity: Identity
    key_transport: str  # "rsa-pkcs1v15", "rsa-oaep-sha256", "ecdh-sha256kdf", ...


def recover_content_key(recipient_infos: cms.RecipientInfos, identities: Sequence[Identity]) -> RecoveredKey:
    """The CEK for the first RecipientInfo that names one of ``identities``' certificates."""
    try:
        return _recover(recipient_infos, identities)
    except (ValueError, TypeError, KeyError, AttributeError):  # asn1crypto on malformed fields
        raise MessageFormatError("The recipient list of this encrypted message is damaged.") from None


def _recover(recipient_infos: cms.RecipientInfos, identities: Sequence[Identity]) -> RecoveredKey:
    candidates = 0
    for info in recipient_infos:
        if info.name == "ktri":
            ktri = info.chosen
            for identity in identities:
                if _rid_matches(ktri["rid"], identity.cert):
                    return RecoveredKey(*_key_transport(ktri, identity))
        elif info.name == "kari":
            kari = info.chosen
            for rek in kari["recipient_encrypted_keys"]:
                for identity in identities:
                    if _rid_matches(rek["rid"], identity.cert):
                        cek, how = _key_agreement(kari, rek["encrypted_key"].native, identity)
                        return RecoveredKey(cek, identity, how)
        candidates += 1
    if not identities:
        raise DecryptionError(
            "This message is encrypted. Give the certificate file (.p12) that it was sent to, "
            "with --key."
        )
    names = ", ".join(sorted({e for i in identities for e in i.emails})) or "your certificate"
    raise DecryptionError(
        f"This message was not encrypted for {names}: none of its {candidates} recipients is "
        "your certificate. If you have an older or another certificate, give that one too."
    )


def _rid_matches(rid: core.Asn1Value, cert: x509.Certificate) -> bool:
    """rid is a RecipientIdentifier / KeyAgreementRecipientIdentifier choice."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    if rid.name == "issuer_and_serial_number":
        ias = rid.chosen
        return (
            ias["serial_number"].native == parsed.serial_number
            and ias["issuer"].hashable == parsed.issuer.hashable
        )
    if rid.name in ("subject_key_identifier", "r_key_id", "rKeyId"):
        value = rid.chosen
        ski = value["subject_key_identifier"].native if rid.name != "subject_key_identifier" else value.native
        return ski in _key_identifiers(parsed)
    return False


def _key_identifiers(cert: asn1_x509.Certificate) -> set[bytes]:
    found = {cert.public_key.sha1}
    if cert.key_identifier:
        found.add(cert.key_identifier)
    return found


def _key_transport(ktri: cms.KeyTransRecipientInfo, identity: Identity) -> tuple[bytes, Identity, str]:
    key = identity.key
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DecryptionError("The message uses RSA key transport, but your matching key is not RSA.")
    algorithm = ktri["key_encryption_algorithm"]
    name = algorithm["algorithm"].native
    encrypted = ktri["encrypted_key"].native
    try:
        if name == "rsaes_oaep":
            params = algorithm["parameters"]
            hash_name = params["hash_algorithm"]["algorithm"].native
            mgf = params["mask_gen_algorithm"]
            mgf_hash = mgf["parameters"]["algorithm"].native if mgf["algorithm"].native == "mgf1" else None
            if hash_name not in _HASHES or mgf_hash not in _HASHES:
                raise DecryptionError(f"The message uses RSA-OAEP with {hash_name}/{mgf_hash}, which is not supported.")
            source = params["p_source_algorithm"]
            label = source["parameters"].native if source["algorithm"].native == "p_specified" else None
            cek = key.decrypt(
                encrypted,
                padding.OAEP(mgf=padding.MGF1(_HASHES[mgf_hash]()), algorithm=_HASHES[hash_name](), label=label or None),
            )
            return cek, identity, f"rsa-oaep-{hash_name}"
        if name in ("rsaes_pkcs1v15", "rsa"):
            return key.decrypt(encrypted, padding.PKCS1v15()), identity, "rsa-pkcs1v15"
    except ValueError:
        raise DecryptionError(
            "The message names your certificate, but your key could not unlock it: the key does "
            "not belong to that certificate, or the message is damaged."
        ) from None
    raise DecryptionError(f"The message uses the key transport {name}, which is not supported.")


class _RawAlgorithm(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


def _key_agreement(kari: cms.KeyAgreeRecipientInfo, wrapped: bytes, identity: Identity) -> tuple[bytes, str]:
    originator = kari["originator"]
    if originator.name != "originator_key":
        raise DecryptionError(
            "The message uses static-static key agreement, which mail programs do not use and "
            "smimehelper does not support."
        )
    public_info: asn1_keys.PublicKeyInfo = originator.chosen
    algorithm_oid = public_info["algorithm"]["algorithm"].dotted
    point = public_info["public_key"].native if algorithm_oid != oids.EC_PUBLIC_KEY else public_info["public_key"].contents[1:]
    shared = _shared_secret(algorithm_oid, bytes(point), identity)
    raw_kea = _RawAlgorithm.load(kari["key_encryption_algorithm"].dump())
    scheme = raw_kea["algorithm"].dotted
    wrap_der = raw_kea["parameters"].dump() if raw_kea["parameters"].native is not None or raw_kea["parameters"].contents else b""
    if not wrap_der:
        raise MessageFormatError("The key agreement in this message names no key-wrap algorithm; it is damaged.")
    wrap = _RawAlgorithm.load(wrap_der)
    wrap_oid = wrap["algorithm"].dotted
    if wrap_oid not in _WRAP_KEK_BYTES:
        raise DecryptionError(f"The message wraps its key with {wrap_oid}, which is not supported.")
    kek_len = _WRAP_KEK_BYTES[wrap_oid]
    ukm = kari["ukm"].native if kari["ukm"].native is not None else None
    shared_info = _ecc_cms_shared_info(wrap_der, ukm, kek_len * 8)
    if scheme in oids.X963_KDF_SCHEMES:
        hash_name = oids.X963_KDF_SCHEMES[scheme]
        kek = X963KDF(algorithm=_HASHES[hash_name](), length=kek_len, sharedinfo=shared_info).derive(shared)
        how = f"ecdh-{hash_name}kdf"
    elif scheme in oids.HKDF_SCHEMES:
        hash_name = oids.HKDF_SCHEMES[scheme]
        kek = HKDF(algorithm=_HASHES[hash_name](), length=kek_len, salt=ukm, info=shared_info).derive(shared)
        how = f"ecdh-hkdf-{hash_name}"
    else:
        raise DecryptionError(f"The message uses the key agreement scheme {scheme}, which is not supported.")
    try:
        if wrap_oid in _WRAP_WITH_PADDING:
            return keywrap.aes_key_unwrap_with_padding(kek, wrapped), how
        return keywrap.aes_key_unwrap(kek, wrapped), how
    except (keywrap.InvalidUnwrap, ValueError):
        raise DecryptionError(
            "The message names your certificate, but the key agreement did not produce its key: "
            "the message is damaged or was made with a different key."
        ) from None


def _shared_secret(algorithm_oid: str, public: bytes, identity: Identity) -> bytes:
    key = identity.key
    try:
        if algorithm_oid == oids.EC_PUBLIC_KEY and isinstance(key, ec.EllipticCurvePrivateKey):
            # The curve is the recipient's: OpenSSL and NSS omit it from the originator key.
            peer = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, public)
            return key.exchange(ec.ECDH(), peer)
        if algorithm_oid == oids.X25519 and isinstance(key, x25519.X25519PrivateKey):
            return _nonzero(key.exchange(x25519.X25519PublicKey.from_public_bytes(public)))
        if algorithm_oid == oids.X448 and isinstance(key, x448.X448PrivateKey):
            return _nonzero(key.exchange(x448.X448PublicKey.from_public_bytes(public)))
    except (ValueError, InvalidKey):
        raise MessageFormatError("The sender's key-agreement value in this message is invalid; it is damaged.") from None
    raise DecryptionError("The message's key agreement does not fit the type of your key.")


def _nonzero(secret: bytes) -> bytes:
    """RFC 8418 2: an all-zero X25519/X448 result means a small-order key; abort."""
    if not any(secret):
        raise MessageFormatError("The sender's key-agreement value in this message is invalid; it is damaged.")
    return secret


def _ecc_cms_shared_info(key_info_der: bytes, ukm: bytes | None, kek_bits: int) -> bytes:
    """ECC-CMS-SharedInfo with keyInfo exactly as the message carries it (see recipients.py)."""
    body = key_info_der
    if ukm is not None:
        inner = core.OctetString(ukm).dump()
        body += b"\xa0" + ber.der_length(len(inner)) + inner
    supp = core.OctetString(kek_bits.to_bytes(4, "big")).dump()
    body += b"\xa2" + ber.der_length(len(supp)) + supp
    return b"\x30" + ber.der_length(len(body)) + body
