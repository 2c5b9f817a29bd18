"""Private keys at rest: no file in the data folder is a usable private key; with a secure keyring no
passphrase is asked; a missing keyring secret is explained; ``--home`` in a real process.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.cli.compose_helpers import CliResult, frozen_clock, run_main, run_script  # noqa: F401 (fixture)
from tests.judges import openssl_decrypt, openssl_verify
from tests.memory_keyring import MemoryKeyring
from tests.pki.make_pki import REFERENCE_NOW, Pki
from tests.cli.identity_helpers import PASSPHRASE, ok, fails, files_under, sha256_hex, import_identity, identities_json, write_file, sign_request, pem
from tests.cli.identity_helpers import memory_keyring, no_terminal  # noqa: F401 (fixtures)


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
