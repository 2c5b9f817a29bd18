"""Helpers for the ``trust`` and ``contacts`` CLI tests: certificate bundles, the JSON listings,
the clock at the revocation PKI's moment (real CRL and OCSP servers on 127.0.0.1), an older
certificate of bob."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from smimehelper import services
from tests.cli.compose_helpers import frozen_clock, run_main  # noqa: F401 (fixture)
from tests.cli.identity_helpers import ok, write_file
from tests.pki.make_pki import REFERENCE_NOW, Pki
from tests.pki.revocation import RevocationPki

CONTACT_JSON_KEYS = {"email", "status", "reason", "not_after", "fingerprint_sha256"}


def p7b(out: Path, *certs: Path, der: bool = False) -> Path:
    """A PKCS#7 certificate bundle made by OpenSSL (PEM unless ``der``)."""
    cmd = ["openssl", "crl2pkcs7", "-nocrl"]
    for cert in certs:
        cmd += ["-certfile", str(cert)]
    cmd += ["-out", str(out)] + (["-outform", "DER"] if der else [])
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def with_chain(pki: Pki, name: str, folder: Path) -> Path:
    """``NAME.cert.pem`` followed by the intermediate, as a provider's download usually is."""
    return write_file(folder / f"{name}-with-chain.pem", pki[name].cert_pem.read_bytes() + pki.inter.cert_pem.read_bytes())


def contacts_json(capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict]:
    rows = json.loads(ok(["contacts", "list", "--json", *extra], capsys).out)["contacts"]
    for row in rows:
        assert CONTACT_JSON_KEYS <= set(row), row
    return rows


def statuses(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, str]:
    return {row["email"]: row["status"] for row in contacts_json(capsys, *extra)}


def trust_json(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return json.loads(ok(["trust", "list", "--json"], capsys).out)["authorities"]


@pytest.fixture
def at_revocation_moment(revocation_pki: RevocationPki, monkeypatch: pytest.MonkeyPatch) -> RevocationPki:
    revocation_pki.check_clock()
    monkeypatch.setattr(services, "clock", lambda: revocation_pki.moment)
    return revocation_pki


def older_bob(pki: Pki) -> x509.Certificate:
    """A second, expired certificate of bob@example.org (his previous one)."""
    return (
        x509.CertificateBuilder().subject_name(pki["bob"].cert.subject).issuer_name(pki.inter.cert.subject)
        .public_key(pki["alice"].cert.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(REFERENCE_NOW - dt.timedelta(days=800)).not_valid_after(REFERENCE_NOW - dt.timedelta(days=400))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name("bob@example.org")]), critical=False)
        .sign(pki.inter.key, hashes.SHA256())
    )
