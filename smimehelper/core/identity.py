"""The user's own key, certificate and chain.

An :class:`Identity` is what signing needs (the key and the certificates to include) and what
encrypting to oneself needs (the certificate), so the Sent copy of a message stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x448, x25519
from cryptography.hazmat.primitives.serialization import pkcs12

from .certs import cert_emails, describe, read_small_file
from .errors import CertificateError, PassphraseError

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
    """Open a .p12/.pfx file (modern AES/PBKDF2, 3DES or legacy RC2-40 exports)."""
    data = read_small_file(path, what="certificate file (.p12/.pfx)")
    try:
        bundle = pkcs12.load_pkcs12(data, passphrase or None)
    except ValueError as exc:
        text = str(exc).lower()
        if "password" in text or "mac" in text or "decrypt" in text:
            if not passphrase:
                raise PassphraseError(
                    f"{path} is protected by a passphrase; please give it."
                ) from None
            # A wrong passphrase and a damaged file fail the same integrity check.
            raise PassphraseError(
                f"The passphrase for {path} is not correct (or the file is damaged). Please try again."
            ) from None
        raise CertificateError(
            f"{path} is not a readable PKCS#12 (.p12/.pfx) file. It may be damaged or incomplete; "
            "export it again from where it came from."
        ) from None
    except TypeError:
        raise PassphraseError(f"The passphrase for {path} is not correct. Please try again.") from None
    if bundle.key is None or bundle.cert is None:
        raise CertificateError(
            f"{path} contains no private key with its certificate. Export it again with the "
            "private key included (in Windows: \"Yes, export the private key\")."
        )
    key = bundle.key
    if not isinstance(key, _SUPPORTED_KEYS):
        raise CertificateError(
            f"The key in {path} is of a kind S/MIME mail programs do not support; RSA or EC is needed."
        )
    cert = bundle.cert.certificate
    if _spki(cert.public_key()) != _spki(key.public_key()):
        raise CertificateError(f"The certificate in {path} does not belong to its private key.")
    chain = tuple(c.certificate for c in bundle.additional_certs if c.certificate != cert)
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
