"""``smimehelper identity new``: a new key and certificate request, signed by the test CA (judged by
OpenSSL), imported back and used to sign mail.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from smimehelper import services
from tests.cli.compose_helpers import CliResult, frozen_clock, run_main, run_script  # noqa: F401 (fixture)
from tests.judges import openssl_decrypt, openssl_verify
from tests.pki.make_pki import REFERENCE_NOW, Pki
from tests.cli.identity_helpers import ok, fails, files_under, sha256_hex, identities_json, write_file, parse_mime, sign_request, pem
from tests.cli.identity_helpers import memory_keyring, no_terminal  # noqa: F401 (fixtures)


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
