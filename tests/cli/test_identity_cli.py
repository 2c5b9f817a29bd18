"""``smimehelper identity``: import once, keys encrypted at rest, used by compose and open.

In-process through ``main([...])`` (fast; the clock can be frozen), plus real processes for what
only they show (no terminal on stdin). The autouse ``isolated_home`` fixture gives every test an
empty data folder and the "fail" keyring, so keys are protected by a passphrase unless a test
installs the in-memory keyring below.

The helpers at the top are shared with test_contacts_trust_cli.py and test_store_workflow_cli.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from smimehelper import services
from tests.cli.test_compose_cli import CliResult, frozen_clock, run_main, run_script  # noqa: F401 (fixture)
from tests.judges import openssl_decrypt, openssl_verify
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


# --------------------------------------------------------------------------- new key, CSR, import-cert


@pytest.mark.parametrize("use_ec", [False, True], ids=["rsa", "ec"])
def test_new_request_signed_by_the_ca_then_signs_mail(use_ec: bool, pki: Pki, isolated_home: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str], frozen_clock: None) -> None:
    pass_file = write_file(tmp_path / "new-pass.txt", b"my new key passphrase\n")
    request = tmp_path / "req.csr"
    argv = ["identity", "new", "--email", "New.Colleague@Example.org", "--name", "Dr New Colleague",
            "-o", request, "--passphrase-file", pass_file]
    result = ok(argv + (["--ec"] if use_ec else []), capsys)
    assert str(request) in result.out and "import-cert" in result.out

    csr = x509.load_pem_x509_csr(request.read_bytes())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Dr New Colleague"
    assert csr.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)[0].value == "new.colleague@example.org"
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["new.colleague@example.org"]
    if use_ec:
        assert isinstance(csr.public_key(), ec.EllipticCurvePublicKey) and csr.public_key().curve.name == "secp256r1"
    else:
        assert isinstance(csr.public_key(), rsa.RSAPublicKey) and csr.public_key().key_size == 3072

    # the pending key is stored encrypted; it is not an identity yet
    pending = files_under(isolated_home / "identities")
    assert sorted(p.suffix for p in pending) == [".json", ".key"] and all(p.name.startswith("request-") for p in pending)
    assert identities_json(capsys) == []

    cert = sign_request(pki, csr)
    cert_file = write_file(tmp_path / "from-provider.pem", pem(cert, pki.inter.cert))

    # a certificate that belongs to no request, and the wrong passphrase, change nothing
    fails(["identity", "import-cert", pki["bob"].cert_pem, "--passphrase-file", pass_file], capsys, "does not belong to any certificate request")
    wrong = write_file(tmp_path / "wrong.txt", b"wrong passphrase!\n")
    fails(["identity", "import-cert", cert_file, "--passphrase-file", wrong], capsys, "not correct")
    assert files_under(isolated_home / "identities") == pending

    result = ok(["identity", "import-cert", cert_file, "--passphrase-file", pass_file], capsys)
    assert "Your certificate is ready" in result.out and "Dr New Colleague" in result.out
    assert "new.colleague@example.org" in result.out
    listed = identities_json(capsys)
    assert len(listed) == 1
    assert listed[0]["fingerprint_sha256"] == sha256_hex(cert) and listed[0]["default"] is True
    assert listed[0]["protection"] == "passphrase"
    assert not any(p.name.startswith("request-") for p in files_under(isolated_home / "identities"))
    assert services.Stores.open().identities.get(None).chain == (pki.inter.cert,)

    # the new identity signs a message that OpenSSL verifies (and decrypts as bob)
    out = tmp_path / "m.eml"
    ok(["compose", "--to", "bob@example.org", "--recipient-cert", pki["bob"].cert_pem, "--subject", "First message",
        "--body", "Signed with my new certificate.\n", "-o", out, "--passphrase-file", pass_file], capsys)
    assert parse_mime(out.read_bytes())["From"].addresses[0].addr_spec == "new.colleague@example.org"
    inner = openssl_decrypt(out, pki["bob"].cert_pem, pki["bob"].key_path)
    content = openssl_verify(inner, pki.root.cert_pem, attime=REFERENCE_NOW)
    assert b"Signed with my new certificate." in content
    signed = ok(["compose", "--to", "bob@example.org", "--subject", "s", "--body", "only signed\n", "--no-encrypt",
                 "-o", tmp_path / "s.eml", "--passphrase-file", pass_file], capsys)
    assert "Signed with your certificate" in signed.out
    openssl_verify(tmp_path / "s.eml", pki.root.cert_pem, attime=REFERENCE_NOW)


def test_new_request_without_terminal_or_passphrase_file(isolated_home: Path, tmp_path: Path) -> None:
    result = run_script("identity", "new", "--email", "new@example.org", "--name", "New", "--ec", "-o", str(tmp_path / "r.csr"),
                        cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert result.code == 2, result.err
    assert "--passphrase-file" in result.err and "Traceback" not in result.err
    assert not (tmp_path / "r.csr").exists()
    assert files_under(isolated_home / "identities") == []


def test_new_request_printed_to_stdout(isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pass_file = write_file(tmp_path / "p.txt", b"long enough passphrase")
    result = ok(["identity", "new", "--email", "new@example.org", "--name", "New", "--ec", "--passphrase-file", pass_file], capsys)
    csr = x509.load_pem_x509_csr(result.out.encode())  # stdout is the bare request
    assert csr.is_signature_valid
    assert "import-cert" in result.err


# --------------------------------------------------------------------------- nothing in the folder opens without the secret


def test_no_file_in_the_data_folder_is_a_usable_private_key(pki: Pki, p12_variants: dict[str, Path], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "data"  # created by smimehelper itself (--home)
    request_pass = b"pending request passphrase"
    request_pass_file = write_file(tmp_path / "request-pass.txt", request_pass)
    import_identity(pki, "alice", capsys, "--home", home)
    ok(["--home", home, "identity", "import", p12_variants["pem-key"], "--cert", p12_variants["pem-cert"],
        "--passphrase-file", pki.passphrase_file], capsys)
    ok(["--home", home, "identity", "new", "--email", "new@example.org", "--name", "New", "--ec",
        "-o", tmp_path / "r.csr", "--passphrase-file", request_pass_file], capsys)
    ok(["--home", home, "trust", "add", pki.root.cert_pem], capsys)
    ok(["--home", home, "contacts", "import", pki["carol"].cert_pem], capsys)
    assert len(identities_json(capsys, "--home", home)) == 2

    files = files_under(home)
    key_files = [p for p in files if p.suffix == ".key"]
    assert len(key_files) == 3, files  # alice, bob, the pending request
    secrets = (PASSPHRASE, request_pass)
    for path in files:
        data = path.read_bytes()
        with pytest.raises((ValueError, TypeError)):
            serialization.load_pem_private_key(data, None)
        with pytest.raises((ValueError, TypeError)):
            serialization.load_der_private_key(data, None)
        with pytest.raises((ValueError, TypeError)):
            pkcs12.load_key_and_certificates(data, None)
        for secret in secrets:
            assert secret not in data, f"{path} contains a passphrase"
            assert base64.b64encode(secret) not in data, f"{path} contains a passphrase (base64)"
        assert b"PRIVATE KEY" not in data
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path} is {oct(path.stat().st_mode)}"
    for folder in [home, *(p for p in home.rglob("*") if p.is_dir())]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, f"{folder} is {oct(folder.stat().st_mode)}"

    # ...and the key files really are the keys, opened by the right secret only
    opened = {}
    for path in key_files:
        secret = request_pass if path.name.startswith("request-") else PASSPHRASE
        opened[path.stem] = serialization.load_der_private_key(path.read_bytes(), secret)
        with pytest.raises((ValueError, TypeError)):
            serialization.load_der_private_key(path.read_bytes(), b"wrong")
    for name in ("alice", "bob"):
        key = opened[sha256_hex(pki[name].cert)]
        assert key.public_key().public_numbers() == pki[name].key.public_key().public_numbers()  # type: ignore[union-attr]


# --------------------------------------------------------------------------- a secure keyring


def test_keyring_protects_the_key_and_no_passphrase_is_asked(memory_keyring: MemoryKeyring, pki: Pki, isolated_home: Path,
                                                            tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            frozen_clock: None, no_terminal: None) -> None:
    alice = pki["alice"]
    result = ok(["identity", "import", alice.p12, "--passphrase-file", pki.passphrase_file], capsys)  # to open the .p12
    assert "system keyring" in result.out
    shown = json.loads(ok(["identity", "show", "--json"], capsys).out)
    assert shown["protection"] == "keyring"

    fingerprint = sha256_hex(alice.cert)
    assert list(memory_keyring.secrets) == [("smimehelper", f"identity:{fingerprint}")]
    secret = base64.b64decode(memory_keyring.secrets[("smimehelper", f"identity:{fingerprint}")])
    assert len(secret) == 32 and secret != PASSPHRASE and PASSPHRASE not in secret
    key_file = isolated_home / "identities" / f"{fingerprint}.key"
    with pytest.raises((ValueError, TypeError)):
        serialization.load_der_private_key(key_file.read_bytes(), PASSPHRASE)  # not the .p12 passphrase
    assert serialization.load_der_private_key(key_file.read_bytes(), secret).public_key().public_numbers() == \
        alice.key.public_key().public_numbers()  # type: ignore[union-attr]
    for path in files_under(isolated_home):
        assert PASSPHRASE not in path.read_bytes() and secret not in path.read_bytes()

    # compose and open: no --passphrase-file, no terminal, getpass forbidden
    out = tmp_path / "m.eml"
    ok(["compose", "--to", "bob@example.org", "--recipient-cert", pki["bob"].cert_pem,
        "--subject", "s", "--body", "keyring\n", "-o", out], capsys)
    inner = openssl_decrypt(out, pki["bob"].cert_pem, pki["bob"].key_path)
    assert b"keyring" in openssl_verify(inner, pki.root.cert_pem, attime=REFERENCE_NOW)
    opened = json.loads(ok(["open", out, "--trust", pki.root.cert_pem, "--json"], capsys).out)
    assert opened["decrypted"] is True and opened["body_text"].startswith("keyring")

    # a new key made here is protected by the keyring too; joining its certificate asks nothing
    ok(["identity", "new", "--email", "new@example.org", "--name", "New", "--ec", "-o", tmp_path / "r.csr"], capsys)
    csr = x509.load_pem_x509_csr((tmp_path / "r.csr").read_bytes())
    cert_file = write_file(tmp_path / "new.pem", pem(sign_request(pki, csr), pki.inter.cert))
    ok(["identity", "import-cert", cert_file], capsys)
    new = json.loads(ok(["identity", "show", "new@example.org", "--json"], capsys).out)
    assert new["protection"] == "keyring"
    assert not any(name.startswith("request:") for _, name in memory_keyring.secrets)

    # removing an identity removes its keyring secret
    ok(["identity", "remove", "alice@example.org"], capsys)
    assert ("smimehelper", f"identity:{fingerprint}") not in memory_keyring.secrets


def test_keyring_secret_missing_is_explained(memory_keyring: MemoryKeyring, pki: Pki, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str], frozen_clock: None, no_terminal: None) -> None:
    import_identity(pki, "alice", capsys)
    memory_keyring.secrets.clear()  # "the keyring was reset"
    out = tmp_path / "m.eml"
    fails(["compose", "--to", "bob@example.org", "--recipient-cert", pki["bob"].cert_pem, "--subject", "s", "--body", "b",
           "-o", out], capsys, "keyring", "import")
    assert not out.exists()


def test_home_option_in_a_real_process(pki: Pki, isolated_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"
    result = run_script("--home", str(home), "identity", "import", str(pki["alice"].p12),
                        "--passphrase-file", str(pki.passphrase_file), cwd=tmp_path)
    assert result.code == 0, result.err
    result = run_script("--home", str(home), "identity", "list", "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    assert [i["emails"] for i in json.loads(result.out)["identities"]] == [["alice@example.org"]]
    assert (home / "identities" / f"{sha256_hex(pki['alice'].cert)}.key").is_file()
    assert files_under(isolated_home) == []  # $SMIMEHELPER_HOME untouched
    result = run_script("identity", "list", "--json", cwd=tmp_path)
    assert json.loads(result.out)["identities"] == []
    assert os.environ["SMIMEHELPER_HOME"] == str(isolated_home)


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
