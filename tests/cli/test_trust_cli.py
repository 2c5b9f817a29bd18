"""``smimehelper trust``: the authorities the user trusts (add, list, remove; bundles; refusals)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.compose_helpers import frozen_clock, run_main  # noqa: F401 (fixture)
from tests.cli.contacts_helpers import p7b, trust_json
from tests.cli.identity_helpers import fails, files_under, ok, sha256_hex, write_file
from tests.pki.make_pki import Pki


def test_trust_add_list_remove(pki: Pki, isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert trust_json(capsys) == []
    assert "No authorities added" in ok(["trust", "list"], capsys).out

    result = ok(["trust", "add", pki.root.cert_pem], capsys)
    assert "Now trusting" in result.out and "smimehelper Test Root CA" in result.out
    [root] = trust_json(capsys)
    assert set(root) == {"subject", "fingerprint_sha256", "not_after", "added"}
    assert root["fingerprint_sha256"] == sha256_hex(pki.root.cert)
    assert "smimehelper Test Root CA" in root["subject"]
    assert root["not_after"] == pki.root.cert.not_valid_after_utc.isoformat()
    assert "already trusted" in ok(["trust", "add", pki.root.cert_der], capsys).out  # DER, same certificate

    bundle = p7b(tmp_path / "network.p7b", pki.root.cert_pem, pki.inter.cert_pem)
    result = ok(["trust", "add", bundle], capsys)
    assert "Intermediate CA" in result.out and "Root CA" not in result.out  # only the new one is reported
    assert {a["fingerprint_sha256"] for a in trust_json(capsys)} == {sha256_hex(pki.root.cert), sha256_hex(pki.inter.cert)}
    text = ok(["trust", "list"], capsys).out
    assert sha256_hex(pki.inter.cert)[:16] in text and "Intermediate CA" in text

    fails(["trust", "remove", "smimehelper Test"], capsys, "More than one")
    fails(["trust", "remove", "0000000000"], capsys, "No trusted authority")
    result = ok(["trust", "remove", sha256_hex(pki.inter.cert)[:16]], capsys)
    assert "No longer trusting" in result.out and "Intermediate CA" in result.out
    assert [a["fingerprint_sha256"] for a in trust_json(capsys)] == [sha256_hex(pki.root.cert)]
    ok(["trust", "remove", "Root CA"], capsys)  # by name
    assert trust_json(capsys) == []


def test_trust_p7b_in_der_form(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = p7b(tmp_path / "network.p7c", pki.root.cert_pem, pki.inter.cert_pem, der=True)
    ok(["trust", "add", bundle], capsys)
    assert len(trust_json(capsys)) == 2


def test_trust_refuses_a_persons_certificate(pki: Pki, isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fails(["trust", "add", pki["bob"].cert_pem], capsys, "bob.cert.pem", "not a certificate authority")
    assert trust_json(capsys) == []
    # a bundle with a person's certificate in it is refused as a whole
    mixed = p7b(tmp_path / "mixed.p7b", pki.root.cert_pem, pki["bob"].cert_pem)
    fails(["trust", "add", mixed], capsys, "mixed.p7b", "Bob Recipient")
    assert trust_json(capsys) == []
    garbage = write_file(tmp_path / "garbage.pem", b"nothing to see\n")
    fails(["trust", "add", garbage], capsys, "garbage.pem", "does not contain a certificate")
    assert files_under(isolated_home) == []
