"""``smimehelper identity``: import (good files and failures), list, show, default, remove, export.

In-process through ``main([...])`` (fast; the clock can be frozen), plus real processes for what
only they show (no terminal on stdin). The autouse ``isolated_home`` fixture gives every test an
empty data folder and the "fail" keyring, so keys are protected by a passphrase unless a test
installs the in-memory keyring (identity_helpers.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from smimehelper import services
from tests.cli.compose_helpers import CliResult, frozen_clock, run_main, run_script  # noqa: F401 (fixture)
from tests.pki.make_pki import Pki
from tests.cli.identity_helpers import PASSPHRASE, IDENTITY_JSON_KEYS, ok, fails, files_under, sha256_hex, import_identity, identities_json, write_file
from tests.cli.identity_helpers import memory_keyring, no_terminal  # noqa: F401 (fixtures)


# --------------------------------------------------------------------------- import: good files


@pytest.mark.parametrize("variant", ["aes", "3des", "legacy-rc2"])
def test_import_p12_variants(variant: str, p12_variants: dict[str, Path], pki: Pki, isolated_home: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    bob = pki["bob"]
    result = ok(["identity", "import", p12_variants[variant], "--passphrase-file", pki.passphrase_file], capsys)

    out = result.out
    assert "Imported your certificate" in out
    assert "Bob Recipient" in out
    assert "bob@example.org" in out
    assert "smimehelper Test Intermediate CA" in out  # the issuer
    assert f"{bob.cert.not_valid_before_utc:%Y-%m-%d} to {bob.cert.not_valid_after_utc:%Y-%m-%d}" in out
    for usage in ("digital_signature", "key_encipherment", "emailProtection"):
        assert usage in out
    assert sha256_hex(bob.cert) in out
    assert "unlocked by your passphrase" in out
    assert "test-pass" not in out + result.err

    shown = json.loads(ok(["identity", "show", "--json"], capsys).out)
    assert set(shown) == IDENTITY_JSON_KEYS
    assert shown["fingerprint_sha256"] == sha256_hex(bob.cert)
    assert shown["emails"] == ["bob@example.org"]
    assert shown["name"] == "Bob Recipient"
    assert shown["key_type"] == "RSA 2048"
    assert shown["default"] is True
    assert shown["protection"] == "passphrase"  # the fail keyring: no secure keyring here

    # the stored key is bob's, encrypted under the passphrase; the chain came along
    stored = services.Stores.open().identities.get("bob@example.org")
    assert [c.subject for c in stored.chain] == [pki.inter.cert.subject, pki.root.cert.subject]
    key_file = isolated_home / "identities" / f"{sha256_hex(bob.cert)}.key"
    key = serialization.load_der_private_key(key_file.read_bytes(), PASSPHRASE)
    assert key.public_key().public_numbers() == bob.key.public_key().public_numbers()  # type: ignore[union-attr]


def test_import_pem_key_with_its_certificate(p12_variants: dict[str, Path], pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    result = ok(["identity", "import", p12_variants["pem-key"], "--cert", p12_variants["pem-cert"],
                 "--passphrase-file", pki.passphrase_file], capsys)

    assert "Bob Recipient" in result.out and "bob@example.org" in result.out
    assert "smimehelper Test Intermediate CA" in result.out
    shown = json.loads(ok(["identity", "show", "bob@example.org", "--json"], capsys).out)
    assert shown["fingerprint_sha256"] == sha256_hex(pki["bob"].cert)
    assert shown["protection"] == "passphrase"
    stored = services.Stores.open().identities.get(None)
    assert stored.chain == (pki.inter.cert, pki.root.cert)


# --------------------------------------------------------------------------- import: failures


def assert_nothing_stored(home: Path) -> None:
    assert files_under(home / "identities") == [], "a failed import left files behind"
    assert files_under(home) == [], f"a failed import wrote {files_under(home)}"


@pytest.mark.parametrize(
    ("variant", "passphrase", "words"),
    [
        pytest.param("aes", b"not-the-passphrase\n", ("bob-aes.p12", "passphrase", "not correct"), id="wrong-passphrase"),
        pytest.param("corrupted", PASSPHRASE, ("bob-corrupted.p12", "damaged"), id="corrupted"),
        pytest.param("truncated", PASSPHRASE, ("bob-truncated.p12", "damaged or incomplete"), id="truncated"),
        pytest.param("garbage", PASSPHRASE, ("bob-garbage.p12", "damaged or incomplete"), id="garbage"),
        pytest.param("nokey", PASSPHRASE, ("bob-nokey.p12", "no private key"), id="no-key"),
    ],
)
def test_import_failures_store_nothing(variant: str, passphrase: bytes, words: tuple[str, ...], p12_variants: dict[str, Path],
                                       isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pass_file = write_file(tmp_path / "pass.txt", passphrase)
    result = fails(["identity", "import", p12_variants[variant], "--passphrase-file", pass_file], capsys, *words)
    assert "not-the-passphrase" not in result.err
    assert_nothing_stored(isolated_home)
    fails(["identity", "show"], capsys, "not imported")


@pytest.mark.parametrize(
    ("what", "words"),
    [
        pytest.param("garbage-cert", ("garbage-cert.pem", "does not contain a certificate"), id="garbage-certificate-file"),
        pytest.param("other-cert", ("alice.cert.pem", "belongs to the key"), id="certificate-of-another-key"),
        pytest.param("wrong-passphrase", ("bob-pem-key.pem", "not correct"), id="wrong-passphrase"),
        pytest.param("key-is-garbage", ("not-a-key.pem", "not a readable private key"), id="garbage-key-file"),
    ],
)
def test_import_pem_failures_store_nothing(what: str, words: tuple[str, ...], p12_variants: dict[str, Path], pki: Pki,
                                           isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key, cert, pass_file = p12_variants["pem-key"], p12_variants["pem-cert"], pki.passphrase_file
    if what == "garbage-cert":
        cert = write_file(tmp_path / "garbage-cert.pem", b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    elif what == "other-cert":
        cert = pki["alice"].cert_pem
    elif what == "wrong-passphrase":
        pass_file = write_file(tmp_path / "wrong.txt", b"wrong-passphrase\n")
    else:
        key = write_file(tmp_path / "not-a-key.pem", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    result = fails(["identity", "import", key, "--cert", cert, "--passphrase-file", pass_file], capsys, *words)
    assert "wrong-passphrase" not in result.err
    assert_nothing_stored(isolated_home)


def test_import_certificate_without_email_is_refused(pki: Pki, isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fails(["identity", "import", pki["noemail"].p12, "--passphrase-file", pki.passphrase_file], capsys, "no e-mail address")
    assert_nothing_stored(isolated_home)


def test_import_without_terminal_or_passphrase_file(p12_variants: dict[str, Path], isolated_home: Path, tmp_path: Path) -> None:
    result = run_script("identity", "import", str(p12_variants["aes"]), cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    assert "--passphrase-file" in result.err and "no terminal" in result.err
    assert_nothing_stored(isolated_home)


def test_unprotected_p12_needs_a_new_passphrase(pki: Pki, isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A .p12 without a passphrase: with no keyring the stored key needs one of its own."""
    bob = pki["bob"]
    plain = write_file(tmp_path / "plain.p12", pkcs12.serialize_key_and_certificates(
        b"bob", bob.key, bob.cert, [pki.inter.cert], serialization.NoEncryption()))

    result = run_script("identity", "import", str(plain), cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert result.code == 2 and "--passphrase-file" in result.err, result.err
    assert_nothing_stored(isolated_home)

    short = write_file(tmp_path / "short.txt", b"short\n")
    fails(["identity", "import", plain, "--passphrase-file", short], capsys, "at least 8 characters")
    assert_nothing_stored(isolated_home)

    good = write_file(tmp_path / "new-pass.txt", b"a new long passphrase\n")
    ok(["identity", "import", plain, "--passphrase-file", good], capsys)
    key_file = isolated_home / "identities" / f"{sha256_hex(bob.cert)}.key"
    serialization.load_der_private_key(key_file.read_bytes(), b"a new long passphrase")


# --------------------------------------------------------------------------- list, show, default, remove, export


def test_several_identities_list_show_default_remove(pki: Pki, p12_variants: dict[str, Path], isolated_home: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    ok(["identity", "list"], capsys)  # empty is fine
    assert "No certificate imported yet" in ok(["identity", "list"], capsys).out

    import_identity(pki, "alice", capsys)
    ok(["identity", "import", p12_variants["aes"], "--passphrase-file", pki.passphrase_file], capsys)
    import_identity(pki, "frank", capsys)
    fps = {n: sha256_hex(pki[n].cert) for n in ("alice", "bob", "frank")}

    listed = identities_json(capsys)
    assert {tuple(i["emails"]) for i in listed} == {("alice@example.org",), ("bob@example.org",), ("frank@example.org",)}
    assert all(set(i) == IDENTITY_JSON_KEYS for i in listed)
    assert [i["emails"][0] for i in listed if i["default"]] == ["alice@example.org"]  # the first imported
    assert {i["fingerprint_sha256"] for i in listed} == set(fps.values())
    frank = next(i for i in listed if i["emails"] == ["frank@example.org"])
    assert frank["key_type"] == "EC P-256" and frank["name"] == "Frank EC Sender"

    text = ok(["identity", "list"], capsys).out
    lines = {next(w for w in line.split() if "@" in w): line for line in text.splitlines()}
    assert lines["alice@example.org"].startswith("*") and not lines["bob@example.org"].startswith("*")
    assert fps["bob"][:16] in lines["bob@example.org"]

    # show: by address, by fingerprint prefix (with or without colons), default without selector
    assert json.loads(ok(["identity", "show", "--json"], capsys).out)["fingerprint_sha256"] == fps["alice"]
    assert json.loads(ok(["identity", "show", "FRANK@example.org", "--json"], capsys).out)["fingerprint_sha256"] == fps["frank"]
    assert json.loads(ok(["identity", "show", fps["bob"][:12], "--json"], capsys).out)["emails"] == ["bob@example.org"]
    colons = ":".join(fps["bob"][i:i + 2] for i in range(0, 16, 2)).upper()
    assert json.loads(ok(["identity", "show", colons, "--json"], capsys).out)["emails"] == ["bob@example.org"]
    shown = ok(["identity", "show", "bob@example.org"], capsys).out
    assert "Bob Recipient" in shown and fps["bob"] in shown and "unlocked by your passphrase" in shown
    fails(["identity", "show", "dave@example.org"], capsys, "dave@example.org")

    # default
    result = ok(["identity", "default", "bob@example.org"], capsys)
    assert "bob@example.org" in result.out
    assert [i["emails"][0] for i in identities_json(capsys) if i["default"]] == ["bob@example.org"]
    assert ok(["identity", "list"], capsys).out.splitlines()[0].startswith("* bob@example.org")
    assert json.loads(ok(["identity", "show", "--json"], capsys).out)["emails"] == ["bob@example.org"]
    ok(["identity", "default", fps["frank"][:10]], capsys)
    assert json.loads(ok(["identity", "show", "--json"], capsys).out)["emails"] == ["frank@example.org"]
    fails(["identity", "default", "dave@example.org"], capsys, "dave@example.org")
    assert json.loads(ok(["identity", "show", "--json"], capsys).out)["emails"] == ["frank@example.org"]

    # remove the default: its files go, another one becomes the default
    result = ok(["identity", "remove", "frank@example.org"], capsys)
    assert "frank@example.org" in result.out
    assert not (isolated_home / "identities" / f"{fps['frank']}.key").exists()
    assert not (isolated_home / "identities" / f"{fps['frank']}.json").exists()
    listed = identities_json(capsys)
    assert sorted(i["emails"][0] for i in listed) == ["alice@example.org", "bob@example.org"]
    assert sum(i["default"] for i in listed) == 1
    fails(["identity", "show", "frank@example.org"], capsys, "frank@example.org")
    fails(["identity", "remove", "frank@example.org"], capsys, "frank@example.org")

    ok(["identity", "remove", fps["alice"][:16]], capsys)
    ok(["identity", "remove", "bob@example.org"], capsys)
    assert identities_json(capsys) == []
    assert files_under(isolated_home / "identities") == []


def test_export_cert(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import_identity(pki, "alice", capsys)
    import_identity(pki, "frank", capsys)

    out_file = tmp_path / "alice-public.pem"
    result = ok(["identity", "export-cert", "-o", out_file], capsys)
    assert str(out_file) in result.out
    data = out_file.read_bytes()
    assert data.startswith(b"-----BEGIN CERTIFICATE-----") and b"PRIVATE" not in data
    assert x509.load_pem_x509_certificates(data) == [pki["alice"].cert]  # the default, and only the certificate

    printed = ok(["identity", "export-cert", "frank@example.org"], capsys).out
    assert printed.startswith("-----BEGIN CERTIFICATE-----")
    assert x509.load_pem_x509_certificates(printed.encode()) == [pki["frank"].cert]
    fails(["identity", "export-cert", "dave@example.org", "-o", tmp_path / "dave.pem"], capsys, "dave@example.org")
    assert not (tmp_path / "dave.pem").exists()
