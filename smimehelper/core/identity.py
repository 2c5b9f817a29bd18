"""The user's own key, certificate and chain.

An :class:`Identity` is what signing needs (the key and the certificates to include) and what
encrypting to oneself needs (the certificate), so the Sent copy of a message stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.serialization import pkcs12

from .certs import cert_emails, describe, read_small_file
from .errors import CertificateError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey | x448.X448PrivateKey
_SUPPORTED_KEYS = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, x25519.X25519PrivateKey, x448.X448PrivateKey)


@dataclass(frozen=True)
class Identity:
    """A private key with its certificate and the CA certificates that lead to a root."""

    key: PrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    @property
    def emails(self) -> tuple[str, ...]:
        return cert_emails(self.cert)

    def chain_without_root(self) -> tuple[x509.Certificate, ...]:
        """Intermediates to include in a signature: recipients must not learn trust from a message."""
        return tuple(c for c in self.chain if c.issuer != c.subject and c != self.cert)


def load_pkcs12(path: Path, passphrase: bytes | None) -> Identity:
    """Open a .p12/.pfx file (modern AES/PBKDF2, 3DES or legacy RC2-40 exports; RSA, EC, X25519,
    X448 keys); a file that cannot be read says why (see pkcs12_read)."""
    data = read_small_file(path, what="certificate file (.p12/.pfx)")
    try:
        bundle = pkcs12.load_pkcs12(data, passphrase or None)
        key, cert = bundle.key, bundle.cert.certificate if bundle.cert else None
        others = tuple(c.certificate for c in bundle.additional_certs)
    except (ValueError, TypeError):
        # Find out why (wrong passphrase, not a .p12, no key...), or read what cryptography
        # cannot (X25519/X448 keys, as OpenSSL 3 writes them).
        from .pkcs12_read import explain_or_read

        contents = explain_or_read(data, passphrase, str(path))
        key, cert, others = contents.key, contents.cert, contents.others
    if key is None or cert is None:
        raise CertificateError(
            f"{path} contains no private key with its certificate. Export it again with the "
            "private key included (in Windows: \"Yes, export the private key\")."
        )
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        raise CertificateError(
            f"The certificate in {path} has an {'Ed25519' if isinstance(key, ed25519.Ed25519PrivateKey) else 'Ed448'} "
            "key. Mail programs (Outlook, Thunderbird, Apple Mail) cannot check such signatures yet, so "
            "smimehelper cannot sign with it. Ask your certificate provider for an RSA (or EC P-256) "
            "e-mail certificate."
        )
    if not isinstance(key, _SUPPORTED_KEYS):
        raise CertificateError(
            f"The key in {path} is of a kind S/MIME mail programs do not support; RSA or EC is needed."
        )
    if _spki(cert.public_key()) != _spki(key.public_key()):
        raise CertificateError(f"The certificate in {path} does not belong to its private key.")
    chain = tuple(c for c in others if c != cert)
    return Identity(key=key, cert=cert, chain=_order_chain(cert, chain))


def _order_chain(
    leaf: x509.Certificate, others: tuple[x509.Certificate, ...]
) -> tuple[x509.Certificate, ...]:
    """Order CA certificates from the leaf's issuer upwards; unrelated ones go last."""
    ordered: list[x509.Certificate] = []
    remaining = list(others)
    current = leaf
    while True:
        parent = next((c for c in remaining if c.subject == current.issuer), None)
        if parent is None:
            break
        ordered.append(parent)
        remaining.remove(parent)
        if parent.issuer == parent.subject:
            break
        current = parent
    return tuple(ordered + remaining)


def identity_summary(identity: Identity) -> str:
    info = describe(identity.cert)
    return f"{info.display_name} <{', '.join(info.emails) or 'no e-mail'}>"


def _spki(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
