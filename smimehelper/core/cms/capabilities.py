"""SMIMECapabilities we announce in every signature (RFC 8551 2.5.2).

Correspondents' mail programs store this list and use it to choose how to encrypt to us, so it
must name only what our reader decrypts, strongest first.
"""

from __future__ import annotations

from asn1crypto import algos, core

from . import oids


class _Capability(core.Sequence):
    _fields = [("capability_id", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _Capabilities(core.SequenceOf):
    _child_spec = _Capability


def _oaep_sha256_params() -> core.Any:
    return core.Any.load(
        algos.RSAESOAEPParams(
            {
                "hash_algorithm": {"algorithm": "sha256"},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
            }
        ).dump()
    )


def our_capabilities() -> bytes:
    """DER of the SMIMECapabilities attribute value, in order of preference."""
    items = [
        {"capability_id": oids.AES256_CBC},
        {"capability_id": oids.AES192_CBC},
        {"capability_id": oids.AES128_CBC},
        {"capability_id": oids.RSAES_OAEP, "parameters": _oaep_sha256_params()},
        {"capability_id": oids.RSA_ENCRYPTION},
        {
            "capability_id": oids.DH_SINGLEPASS_STDDH_SHA256KDF,
            "parameters": core.Any.load(
                _Capability({"capability_id": oids.AES256_WRAP}).dump()
            ),
        },
    ]
    return _Capabilities(items).dump()
