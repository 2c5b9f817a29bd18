"""Renewed and expired certificates: the renewed one signs after the old one expired, removing the
default never promotes an expired one, ``identity default`` needs a selector matching one.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.cli.compose_helpers import CliResult, frozen_clock, run_main, run_script  # noqa: F401 (fixture)
from tests.judges import openssl_decrypt, openssl_verify
from tests.pki.make_pki import REFERENCE_NOW, Pki
from tests.cli.identity_helpers import PASSPHRASE, ok, fails, sha256_hex, import_identity, write_file
from tests.cli.identity_helpers import memory_keyring, no_terminal  # noqa: F401 (fixtures)


# --------------------------------------------------------------------------- renewed certificates and the default


def expired_twin(pki: Pki, name: str, folder: Path) -> Path:
    """A .p12 of NAME's key with last year's (expired) certificate for the same address."""
    ent = pki[name]
    old = (
        x509.CertificateBuilder().subject_name(ent.cert.subject).issuer_name(pki.inter.cert.subject)
        .public_key(ent.key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(REFERENCE_NOW - dt.timedelta(days=800)).not_valid_after(REFERENCE_NOW - dt.timedelta(days=400))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=True, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(ent.email)]), critical=False)
        .sign(pki.inter.key, hashes.SHA256())
    )
    return write_file(folder / f"{name}-last-year.p12", pkcs12.serialize_key_and_certificates(
        name.encode(), ent.key, old, [pki.inter.cert], serialization.BestAvailableEncryption(PASSPHRASE)))


def test_renewed_certificate_signs_after_the_old_one_expired(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             frozen_clock: None) -> None:
    """Import last year's certificate, then the renewed one: compose without --from must sign
    with the renewed one.

    PRODUCT BUG (fails today): the first import became the default and stays so
    (identity_store.py IdentityStore._store sets the default only when there is none), and
    IdentityStore.for_signing(None) considers the default identity only, so compose exits 2 with
    "Your certificate for alice@example.org expired on ...; get a new one from your certificate
    provider and import it" although the valid renewed certificate is imported. With
    --from alice@example.org it works.
    """
    ok(["identity", "import", expired_twin(pki, "alice", tmp_path), "--passphrase-file", pki.passphrase_file], capsys)
    import_identity(pki, "alice", capsys)
    out = tmp_path / "m.eml"
    argv = ["compose", "--to", "bob@example.org", "--recipient-cert", pki["bob"].cert_pem, "--subject", "s", "--body", "b\n",
            "-o", out, "--passphrase-file", pki.passphrase_file]
    ok([*argv, "--from", "alice@example.org"], capsys)  # works with the address
    out.unlink()

    ok(argv, capsys)

    inner = openssl_decrypt(out, pki["bob"].cert_pem, pki["bob"].key_path)
    openssl_verify(inner, pki.root.cert_pem, attime=REFERENCE_NOW)


def test_removing_the_default_does_not_promote_an_expired_certificate(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                      frozen_clock: None) -> None:
    """PRODUCT BUG (fails today): identity_store.py IdentityStore.remove makes ``remaining[0]``
    the default; list() sorts by not_valid_after ascending, so the certificate that expires
    first -- here an expired one -- becomes the default and compose without --from fails."""
    ok(["identity", "import", expired_twin(pki, "alice", tmp_path), "--passphrase-file", pki.passphrase_file], capsys)
    import_identity(pki, "alice", capsys)
    import_identity(pki, "frank", capsys)
    ok(["identity", "default", "frank@example.org"], capsys)

    ok(["identity", "remove", "frank@example.org"], capsys)

    default = json.loads(ok(["identity", "show", "--json"], capsys).out)
    assert dt.datetime.fromisoformat(default["not_after"]) > REFERENCE_NOW, default
    assert default["fingerprint_sha256"] == sha256_hex(pki["alice"].cert)


def test_default_needs_a_selector_that_matches_one_identity(pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    """PRODUCT BUG (fails today): identity_store.py IdentityStore.set_default takes the first
    record whose fingerprint *starts with* the selector, without the 8-character minimum and
    without an ambiguity check that get() has: ``identity default ""`` (or any short prefix two
    fingerprints share) exits 0 and silently picks one, while ``identity show ""`` says no match."""
    import_identity(pki, "alice", capsys)
    import_identity(pki, "frank", capsys)
    fails(["identity", "show", ""], capsys, "No certificate of yours matches")
    fails(["identity", "default", ""], capsys)
    assert json.loads(ok(["identity", "show", "--json"], capsys).out)["emails"] == ["alice@example.org"]
