"""Certificate requests made here: a new key and its request for a certificate provider, and
joining the certificate the provider returns to that key (``smimehelper identity new`` and
``identity import-cert``, the app's "Request a certificate"). The key never leaves the data
folder unencrypted, as an imported identity's."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from .atomic import AtomicBatch
from .certs import load_certificates
from .errors import CertificateError, PassphraseError
from .identity import Identity, _order_chain, _spki
from .jsonstore import read_document, store_error, write_document
from .keyfile import PASSPHRASE_ITERATIONS, RANDOM_SECRET_ITERATIONS, decrypt_private_key, encrypt_private_key

if TYPE_CHECKING:
    from .identity_store import AskPassphrase, IdentityStore, StoredIdentity

SCHEMA = 1  # of the request's own document


@dataclass(frozen=True)
class PendingRequest:
    key_id: str
    email: str
    name: str
    csr_pem: bytes


def new_request(store: IdentityStore, email: str, name: str, use_ec: bool, ask_new: AskPassphrase | None) -> PendingRequest:
    """A new key (kept encrypted like an identity's) and the request to send to a certificate
    provider; the certificate it returns is joined to the key by :func:`import_certificate`."""
    key = ec.generate_private_key(ec.SECP256R1()) if use_ec else rsa.generate_private_key(65537, 3072)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.EMAIL_ADDRESS, email)]))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_id = hashes_hex(_spki(key.public_key()))
    secret = os.urandom(32) if store.secrets.available() else b""
    if secret and store.secrets.put(f"request:{key_id}", secret):
        protection, iterations = "keyring", RANDOM_SECRET_ITERATIONS
    else:
        if ask_new is None:
            raise PassphraseError("This computer has no secure keyring: give a passphrase with --passphrase-file or run in a terminal.")
        secret = ask_new("New passphrase to protect the new key: ")
        if len(secret) < 8:
            raise PassphraseError("Choose a passphrase of at least 8 characters.")
        protection, iterations = "passphrase", PASSPHRASE_ITERATIONS
    csr_pem = csr.public_bytes(serialization.Encoding.PEM)
    try:
        with AtomicBatch() as batch:
            batch.make_dirs(store.folder)
            batch.write(store.folder / f"request-{key_id}.key", encrypt_private_key(key, secret, iterations))
            write_document(
                store.folder / f"request-{key_id}.json", "certificate-request", SCHEMA,
                {"key_id": key_id, "email": email, "name": name, "csr": csr_pem.decode(), "protection": protection},
                batch=batch,
            )
    except OSError as exc:
        if protection == "keyring":
            store.secrets.delete(f"request:{key_id}")
        raise store_error(store.folder / f"request-{key_id}.key", exc, "The certificate request was not made") from None
    return PendingRequest(key_id, email, name, csr_pem)

def import_certificate(store: IdentityStore, cert_path: Path, ask: AskPassphrase | None, *,
                       now: dt.datetime | None = None) -> StoredIdentity:
    """Join a certificate returned by the authority to the key of a pending request."""
    certs = load_certificates(cert_path)
    for path in sorted(store.folder.glob("request-*.json")) if store.folder.is_dir() else []:
        doc = read_document(path, "certificate-request", SCHEMA)
        if doc is None:
            continue
        for cert in certs:
            if hashes_hex(_spki(cert.public_key())) == doc["key_id"]:
                key_file = store.folder / f"request-{doc['key_id']}.key"
                secret = store._secret(f"request:{doc['key_id']}", doc["protection"], ask, "the new key")
                key = decrypt_private_key(key_file.read_bytes(), secret)
                chain = _order_chain(cert, tuple(c for c in certs if c != cert))
                stored = store._store(Identity(key=key, cert=cert, chain=chain), secret if doc["protection"] == "passphrase" else b"", None,  # type: ignore[arg-type]
                                     now=now, also_remove=(key_file, path))
                store.secrets.delete(f"request:{doc['key_id']}")
                return stored
    raise CertificateError(
        f"The certificate in {cert_path} does not belong to any certificate request made here "
        "('smimehelper identity new'). Import a .p12 with its key instead."
    )


def hashes_hex(spki_der: bytes) -> str:
    import hashlib

    return hashlib.sha256(spki_der).hexdigest()[:32]
