"""SMIMECapabilities we announce in every signature (RFC 8551 2.5.2).

Correspondents' mail programs store this list and use it to choose how to encrypt to us. The
user may also read their mail in Outlook or an older Thunderbird with the same key, so the list
names only what every one of those opens (AES-CBC, RSA PKCS#1 v1.5, ECDH), strongest first; RSA-OAEP
and AES-GCM are read by smimehelper but deliberately not announced (DESIGN.md 2).
"""

from __future__ import annotations

from asn1crypto import core

from . import oids


class _Capability(core.Sequence):
    _fields = [("capability_id", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _Capabilities(core.SequenceOf):
    _child_spec = _Capability


def our_capabilities() -> bytes:
    """DER of the SMIMECapabilities attribute value, in order of preference."""
    items = [
        {"capability_id": oids.AES256_CBC},
        {"capability_id": oids.AES192_CBC},
        {"capability_id": oids.AES128_CBC},
        {"capability_id": oids.RSA_ENCRYPTION},
        {
            "capability_id": oids.DH_SINGLEPASS_STDDH_SHA256KDF,
            "parameters": core.Any.load(
                _Capability({"capability_id": oids.AES256_WRAP}).dump()
            ),
        },
    ]
    return _Capabilities(items).dump()


def parse_capabilities(der: bytes | None) -> frozenset[str]:
    """The capability OIDs a correspondent announced (empty when unknown or damaged)."""
    if not der:
        return frozenset()
    try:
        return frozenset(c["capability_id"].dotted for c in _Capabilities.load(der))
    except (ValueError, TypeError, KeyError):
        return frozenset()
