"""Object identifiers used by the message profile, named once."""

from __future__ import annotations

DATA = "1.2.840.113549.1.7.1"
SIGNED_DATA = "1.2.840.113549.1.7.2"
ENVELOPED_DATA = "1.2.840.113549.1.7.3"
AUTH_ENVELOPED_DATA = "1.2.840.113549.1.9.16.1.23"

SHA256 = "2.16.840.1.101.3.4.2.1"
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
RSAES_OAEP = "1.2.840.113549.1.1.7"
MGF1 = "1.2.840.113549.1.1.8"
ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"

AES128_CBC = "2.16.840.1.101.3.4.1.2"
AES192_CBC = "2.16.840.1.101.3.4.1.22"
AES256_CBC = "2.16.840.1.101.3.4.1.42"
AES128_GCM = "2.16.840.1.101.3.4.1.6"
AES256_GCM = "2.16.840.1.101.3.4.1.46"
AES128_WRAP = "2.16.840.1.101.3.4.1.5"
AES256_WRAP = "2.16.840.1.101.3.4.1.45"

# RFC 5753 / SEC 1: ECDH ephemeral-static with the X9.63 KDF over SHA-256.
DH_SINGLEPASS_STDDH_SHA256KDF = "1.3.132.1.11.1"

# Signed attributes.
ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3"
ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
ATTR_SIGNING_TIME = "1.2.840.113549.1.9.5"
ATTR_SMIME_CAPABILITIES = "1.2.840.113549.1.9.15"
ATTR_ENCRYPTION_KEY_PREFERENCE = "1.2.840.113549.1.9.16.2.11"  # RFC 8551 id-aa-encrypKeyPref
ATTR_MS_ENCRYPTION_KEY_PREFERENCE = "1.3.6.1.4.1.311.16.4"  # Outlook's own

# Reading: what other clients write.
TRIPLE_DES_CBC = "1.2.840.113549.3.7"
AES192_GCM = "2.16.840.1.101.3.4.1.26"
AES192_WRAP = "2.16.840.1.101.3.4.1.25"
X25519 = "1.3.101.110"
X448 = "1.3.101.111"
ED25519 = "1.3.101.112"
ED448 = "1.3.101.113"
RSASSA_PSS = "1.2.840.113549.1.1.10"

# ECDH key agreement schemes -> the hash of their KDF (RFC 5753 / SEC 1 / RFC 8418).
X963_KDF_SCHEMES = {
    "1.3.133.16.840.63.0.2": "sha1",  # dhSinglePass-stdDH-sha1kdf-scheme
    "1.3.132.1.11.0": "sha224",
    "1.3.132.1.11.1": "sha256",
    "1.3.132.1.11.2": "sha384",
    "1.3.132.1.11.3": "sha512",
    "1.3.133.16.840.63.0.3": "sha1",  # dhSinglePass-cofactorDH-*: cofactor 1 on NIST curves
    "1.3.132.1.14.0": "sha224",
    "1.3.132.1.14.1": "sha256",
    "1.3.132.1.14.2": "sha384",
    "1.3.132.1.14.3": "sha512",
}
HKDF_SCHEMES = {
    "1.2.840.113549.1.9.16.3.19": "sha256",  # id-alg-dhSinglePass-stdDH-hkdf-sha256-scheme (RFC 8418)
    "1.2.840.113549.1.9.16.3.20": "sha384",
    "1.2.840.113549.1.9.16.3.21": "sha512",
}
