"""Helpers and fixtures of the ``smimehelper identity`` tests (test_identity_*_cli.py), shared with
the contacts and trust tests, test_identity_usage.py and test_store_workflow_cli.py.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import json
import sys
from pathlib import Path

import keyring
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.cli.compose_helpers import CliResult, frozen_clock, run_main, run_script  # noqa: F401 (fixture)
from tests.memory_keyring import MemoryKeyring
from tests.pki.make_pki import REFERENCE_NOW, Pki

PASSPHRASE = b"test-pass"  # of every .p12 of the test PKI (pki.passphrase_file)
IDENTITY_JSON_KEYS = {
    "fingerprint_sha256", "name", "emails", "issuer", "not_before", "not_after", "key_type",
    "key_usage", "extended_key_usage", "default", "protection",
}


# --------------------------------------------------------------------------- shared helpers


def ok(argv: list[object], capsys: pytest.CaptureFixture[str]) -> CliResult:
    """Run ``smimehelper ARGV`` in-process and insist on exit 0 without a traceback."""
    result = run_main([str(a) for a in argv], capsys)
    assert result.code == 0, f"exit {result.code} for {argv}; stderr: {result.err}"
    assert "Traceback" not in result.err
    return result


def fails(argv: list[object], capsys: pytest.CaptureFixture[str], *words: str, code: int = 2) -> CliResult:
    """Run ``smimehelper ARGV`` and insist on exit ``code`` with one plain error naming ``words``."""
    result = run_main([str(a) for a in argv], capsys)
    assert result.code == code, f"exit {result.code} for {argv}; stdout: {result.out} stderr: {result.err}"
    assert "Traceback" not in result.err and "Traceback" not in result.out
    assert result.err.startswith("Error: ") or "usage:" in result.err, result.err
    for word in words:
        assert word.lower() in result.err.lower(), f"{word!r} not in stderr: {result.err}"
    return result


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def sha256_hex(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def import_identity(pki: Pki, name: str, capsys: pytest.CaptureFixture[str], *extra: object) -> dict:
    """``identity import NAME.p12 --passphrase-file ... --json`` and the JSON it printed."""
    result = ok([*extra, "identity", "import", pki[name].p12, "--passphrase-file", pki.passphrase_file, "--json"], capsys)
    return json.loads(result.out)


def identities_json(capsys: pytest.CaptureFixture[str], *extra: object) -> list[dict]:
    return json.loads(ok([*extra, "identity", "list", "--json"], capsys).out)["identities"]


def write_file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def parse_mime(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]






@pytest.fixture
def memory_keyring(isolated_home: Path) -> MemoryKeyring:
    """Install the in-memory keyring; ``isolated_home`` restores the previous one afterwards."""
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


@pytest.fixture
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdin is not a terminal and getpass must never be reached: any prompt fails the test."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def never(*_args: object, **_kwargs: object) -> str:
        raise AssertionError("smimehelper asked for a passphrase")

    monkeypatch.setattr("getpass.getpass", never)


def sign_request(pki: Pki, csr: x509.CertificateSigningRequest, *, valid_from: dt.datetime = REFERENCE_NOW - dt.timedelta(days=1)) -> x509.Certificate:
    """What a certificate provider does with a CSR: an S/MIME certificate from the test inter CA."""
    key = csr.public_key()
    is_ec = isinstance(key, ec.EllipticCurvePublicKey)
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(pki.inter.cert.subject)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_from + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=not is_ec,
                data_encipherment=False, key_agreement=is_ec, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(san, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.inter.key.public_key()), critical=False)
        .sign(pki.inter.key, hashes.SHA256())
    )


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
