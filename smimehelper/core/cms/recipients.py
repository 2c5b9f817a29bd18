"""RecipientInfos: the content-encryption key, wrapped once for each recipient's certificate.

RSA recipients get KeyTransRecipientInfo (PKCS#1 v1.5 by default, which every client reads;
RSA-OAEP with SHA-256 on request). EC recipients get KeyAgreeRecipientInfo with ephemeral-static
ECDH (RFC 5753), the X9.63 KDF over SHA-256 and AES-256 key wrap. Recipients are identified by
issuerAndSerialNumber, which every client matches.
"""

from __future__ import annotations

import os

from dataclasses import dataclass
from enum import Enum

from asn1crypto import algos, cms, core, keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from .signed import issuer_and_serial
from . import oids


class KeyTransport(Enum):
    """How an RSA recipient's copy of the content key is encrypted."""

    PKCS1V15 = "rsa-pkcs1v15"
    OAEP_SHA256 = "rsa-oaep-sha256"


@dataclass(frozen=True)
class Recipient:
    cert: x509.Certificate
    key_transport: KeyTransport = KeyTransport.PKCS1V15


def recipient_info(recipient: Recipient, cek: bytes) -> cms.RecipientInfo:
    key = recipient.cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return _key_transport(recipient, key, cek)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _key_agreement(recipient.cert, key, cek)
    raise TypeError(f"unsupported recipient key {type(key).__name__}")


def _key_transport(recipient: Recipient, key: rsa.RSAPublicKey, cek: bytes) -> cms.RecipientInfo:
    if recipient.key_transport is KeyTransport.OAEP_SHA256:
        encrypted = key.encrypt(
            cek,
            padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
        )
        algorithm = cms.KeyEncryptionAlgorithm(
            {
                "algorithm": "rsaes_oaep",
                "parameters": algos.RSAESOAEPParams(
                    {
                        "hash_algorithm": {"algorithm": "sha256"},
                        "mask_gen_algorithm": {
                            "algorithm": "mgf1",
                            "parameters": {"algorithm": "sha256"},
                        },
                    }
                ),
            }
        )
    else:
        encrypted = key.encrypt(cek, padding.PKCS1v15())
        algorithm = cms.KeyEncryptionAlgorithm(
            {"algorithm": "rsaes_pkcs1v15", "parameters": core.Null()}
        )
    return cms.RecipientInfo(
        {
            "ktri": {
                "version": "v0",
                "rid": {"issuer_and_serial_number": issuer_and_serial(recipient.cert)},
                "key_encryption_algorithm": algorithm,
                "encrypted_key": encrypted,
            }
        }
    )


class _KeyWrapAlgorithm(core.Sequence):
    """AlgorithmIdentifier with raw parameters, so NULL can be written where Outlook wants it."""

    _fields = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _EccCmsSharedInfo(core.Sequence):
    """ECC-CMS-SharedInfo (RFC 5753 section 7.2), the X9.63 KDF's SharedInfo."""

    _fields = [
        ("key_info", _KeyWrapAlgorithm),
        ("entity_u_info", core.OctetString, {"explicit": 0, "optional": True}),
        ("supp_pub_info", core.OctetString, {"explicit": 2}),
    ]


KEK_BITS = 256
UKM_BYTES = 64


def key_wrap_algorithm() -> _KeyWrapAlgorithm:
    """id-aes256-wrap with NULL parameters.

    RFC 3565 says absent, but Outlook decrypts only with NULL (NSS cmspubkey.c, Bug 676118;
    openssl-users 2019-11). Receivers (OpenSSL, NSS, BouncyCastle) feed the identifier *as the
    message carries it* into the KDF's SharedInfo, so the same bytes go into both places.
    """
    return _KeyWrapAlgorithm({"algorithm": oids.AES256_WRAP, "parameters": core.Null()})


def ecc_cms_shared_info(key_wrap: _KeyWrapAlgorithm, ukm: bytes | None) -> bytes:
    """ECC-CMS-SharedInfo for the X9.63 KDF (RFC 5753 7.2)."""
    info: dict[str, object] = {
        "key_info": key_wrap,
        "supp_pub_info": KEK_BITS.to_bytes(4, "big"),
    }
    if ukm is not None:
        info["entity_u_info"] = ukm
    return _EccCmsSharedInfo(info).dump()


_HASH_FOR_CURVE = hashes.SHA256


def derive_kek(shared_secret: bytes, shared_info: bytes) -> bytes:
    return X963KDF(algorithm=_HASH_FOR_CURVE(), length=KEK_BITS // 8, sharedinfo=shared_info).derive(
        shared_secret
    )


def _key_agreement(
    cert: x509.Certificate, key: ec.EllipticCurvePublicKey, cek: bytes
) -> cms.RecipientInfo:
    ephemeral = ec.generate_private_key(key.curve)
    shared_secret = ephemeral.exchange(ec.ECDH(), key)
    # A user keying material value, as NSS always sends: fresh KEK input even if an
    # implementation ever reused an ephemeral key.
    ukm = os.urandom(UKM_BYTES)
    key_wrap = key_wrap_algorithm()
    kek = derive_kek(shared_secret, ecc_cms_shared_info(key_wrap, ukm))
    wrapped = keywrap.aes_key_wrap(kek, cek)
    point = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    # The curve travels implicitly: it is the recipient's (RFC 5753 section 3.1.1 allows the
    # parameters to be absent, and OpenSSL writes them so).
    originator_key = keys.PublicKeyInfo(
        {
            "algorithm": keys.PublicKeyAlgorithm({"algorithm": "ec"}),
            "public_key": point,
        }
    )
    kea = cms.KeyEncryptionAlgorithm(
        {
            "algorithm": oids.DH_SINGLEPASS_STDDH_SHA256KDF,
            "parameters": core.Any.load(key_wrap.dump()),
        }
    )
    return cms.RecipientInfo(
        {
            "kari": {
                "version": "v3",
                "originator": cms.OriginatorIdentifierOrKey({"originator_key": originator_key}),
                "ukm": ukm,
                "key_encryption_algorithm": kea,
                "recipient_encrypted_keys": [
                    {
                        "rid": {"issuer_and_serial_number": issuer_and_serial(cert)},
                        "encrypted_key": wrapped,
                    }
                ],
            }
        }
    )
