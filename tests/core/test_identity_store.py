"""The identity store: keys encrypted at rest, keyring present or absent, nothing leaks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import keyring
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from smimehelper.core.errors import CertificateError, PassphraseError
from smimehelper.core.identity_store import IdentityNotFound, IdentityStore
from smimehelper.core.secrets import OsKeyring
from tests.memory_keyring import MemoryKeyring
from tests.pki.make_pki import Pki

PASS = b"test-pass"




@pytest.fixture(params=["keyring", "no-keyring"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> IdentityStore:
    if request.param == "keyring":
        backend = MemoryKeyring()
        keyring.set_keyring(backend)
    return IdentityStore(tmp_path / "home", OsKeyring())


def ask(value: bytes = PASS):
    return lambda _prompt: value


def test_import_unlock_and_sign(store: IdentityStore, pki: Pki) -> None:
    stored = store.import_pkcs12(pki.entity("alice").p12, ask())
    assert stored.emails == ("alice@example.org",) and stored.is_default
    assert stored.protection == ("keyring" if store.secrets.available() else "passphrase")
    assert [c.subject for c in stored.chain][0] == pki.inter.cert.subject
    identity = store.locked(store.get("alice@example.org"), ask()).unlocked()
    assert identity.key.public_key().public_numbers() == pki.entity("alice").cert.public_key().public_numbers()


def test_no_file_in_the_data_folder_loads_as_a_private_key(store: IdentityStore, pki: Pki) -> None:
    store.import_pkcs12(pki.entity("alice").p12, ask())
    store.import_pkcs12(pki.entity("carol").p12, ask())
    files = [p for p in store.folder.parent.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        assert b"PRIVATE KEY-----" not in data or b"ENCRYPTED PRIVATE KEY" in data
        for loader in (serialization.load_der_private_key, serialization.load_pem_private_key):
            with pytest.raises((TypeError, ValueError)):
                loader(data, None)
        with pytest.raises((TypeError, ValueError)):
            pkcs12.load_pkcs12(data, None)
        assert PASS not in data  # the passphrase itself is never stored
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"


def test_wrong_passphrase_unlocking(pki: Pki, tmp_path: Path) -> None:
    store = IdentityStore(tmp_path, OsKeyring())  # the fail backend: passphrase protection
    stored = store.import_pkcs12(pki.entity("alice").p12, ask())
    with pytest.raises(PassphraseError):
        store.locked(stored, ask(b"wrong")).unlocked()


def test_keyring_secret_is_used_and_its_loss_is_explained(pki: Pki, tmp_path: Path) -> None:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    store = IdentityStore(tmp_path, OsKeyring())
    stored = store.import_pkcs12(pki.entity("alice").p12, ask())
    assert stored.protection == "keyring" and len(backend.secrets) == 1
    store.locked(stored, None).unlocked()  # no passphrase needed
    backend.secrets.clear()
    with pytest.raises(PassphraseError, match="missing from the system keyring"):
        store.locked(stored, None).unlocked()


@pytest.mark.parametrize(
    ("variant", "error"),
    [("wrong-pass", PassphraseError), ("garbage", CertificateError), ("truncated", CertificateError), ("no-key", CertificateError)],
)
def test_bad_pkcs12_stores_nothing(pki: Pki, tmp_path: Path, variant: str, error: type) -> None:
    import os
    import subprocess

    source = pki.entity("alice").p12
    bad = tmp_path / "bad.p12"
    passphrase = PASS
    if variant == "wrong-pass":
        bad = source
        passphrase = b"nope"
    elif variant == "garbage":
        bad.write_bytes(os.urandom(2000))
    elif variant == "truncated":
        bad.write_bytes(source.read_bytes()[:700])
    else:
        subprocess.run(["openssl", "pkcs12", "-export", "-nokeys", "-in", str(pki.entity("alice").cert_pem),
                        "-out", str(bad), "-passout", "pass:test-pass"], check=True)
    store = IdentityStore(tmp_path / "home", OsKeyring())
    with pytest.raises(error):
        store.import_pkcs12(bad, ask(passphrase))
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("*.key"))
    assert store.list() == []


def test_several_identities_default_and_remove(pki: Pki, tmp_path: Path) -> None:
    store = IdentityStore(tmp_path, OsKeyring())
    alice = store.import_pkcs12(pki.entity("alice").p12, ask())
    frank = store.import_pkcs12(pki.entity("frank").p12, ask())
    assert store.get(None).fingerprint == alice.fingerprint
    store.set_default("frank@example.org")
    assert store.get(None).fingerprint == frank.fingerprint
    assert store.get(alice.fingerprint[:12]).fingerprint == alice.fingerprint
    store.remove("frank@example.org")
    assert store.get(None).fingerprint == alice.fingerprint
    assert not list(store.folder.glob(f"{frank.fingerprint}*"))
    with pytest.raises(IdentityNotFound):
        store.get("frank@example.org")


def test_expired_identity_is_kept_but_never_signs(pki: Pki, tmp_path: Path) -> None:
    store = IdentityStore(tmp_path, OsKeyring())
    store.import_pkcs12(pki.entity("expired").p12, ask())
    assert [i.emails for i in store.list()] == [("expired@example.org",)]
    with pytest.raises(CertificateError, match="expired on"):
        store.for_signing("expired@example.org", pki.now)
    assert "expired on" in (store.list()[0].expiry_warning(pki.now) or "")


def test_expiry_warning_30_days_ahead(pki: Pki, tmp_path: Path) -> None:
    store = IdentityStore(tmp_path, OsKeyring())
    stored = store.import_pkcs12(pki.entity("alice").p12, ask())
    end = stored.cert.not_valid_after_utc
    assert stored.expiry_warning(end - dt.timedelta(days=31)) is None
    assert "expires on" in (stored.expiry_warning(end - dt.timedelta(days=29)) or "")


def test_certificate_request_then_returned_certificate(pki: Pki, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    store = IdentityStore(tmp_path, OsKeyring())
    request = store.new_request("new@example.org", "Dr New", True, ask(b"long enough passphrase"))
    csr = x509.load_pem_x509_csr(request.csr_pem)
    assert csr.is_signature_valid
    assert csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.RFC822Name) == ["new@example.org"]
    cert = (
        x509.CertificateBuilder().subject_name(csr.subject).issuer_name(pki.inter.cert.subject)
        .public_key(csr.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(pki.now).not_valid_after(pki.now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name("new@example.org")]), critical=False)
        .sign(pki.inter.key, hashes.SHA256())
    )
    returned = tmp_path / "returned.pem"
    returned.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    stored = store.import_certificate(returned, ask(b"long enough passphrase"))
    assert stored.emails == ("new@example.org",)
    store.locked(stored, ask(b"long enough passphrase")).unlocked()
    assert not list(store.folder.glob("request-*"))


def test_pem_key_and_certificate_import(pki: Pki, tmp_path: Path) -> None:
    store = IdentityStore(tmp_path / "home", OsKeyring())
    key = serialization.load_pem_private_key(pki.entity("bob").key_path.read_bytes(), None)
    encrypted = tmp_path / "bob.key.pem"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(PASS)))
    stored = store.import_pem(encrypted, pki.entity("bob").cert_pem, ask())
    assert stored.emails == ("bob@example.org",)
    with pytest.raises(CertificateError, match="belongs to the key"):
        store.import_pem(encrypted, pki.entity("carol").cert_pem, ask())


def test_without_keyring_and_without_passphrase_nothing_is_stored(pki: Pki, tmp_path: Path) -> None:
    """A .p12 without passphrase on a machine without keyring: a new passphrase is required."""
    import subprocess

    plain = tmp_path / "nopass.p12"
    subprocess.run(["openssl", "pkcs12", "-export", "-in", str(pki.entity("bob").cert_pem), "-inkey",
                    str(pki.entity("bob").key_path), "-out", str(plain), "-passout", "pass:"], check=True)
    store = IdentityStore(tmp_path / "home", OsKeyring())
    with pytest.raises(PassphraseError, match="no secure keyring"):
        store.import_pkcs12(plain, ask(), ask_new=None)
    assert store.list() == []
    stored = store.import_pkcs12(plain, ask(), ask_new=ask(b"a new passphrase"))
    assert stored.protection == "passphrase"
    store.locked(stored, ask(b"a new passphrase")).unlocked()
