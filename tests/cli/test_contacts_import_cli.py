"""``smimehelper contacts import``: colleagues' certificates from certificate files and from signed
or encrypted mail, and what a failed import leaves (nothing)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from smimehelper import services
from smimehelper.core.cms import oids
from smimehelper.core.cms.capabilities import parse_capabilities
from tests.cli.compose_helpers import frozen_clock, run_main  # noqa: F401 (fixture)
from tests.cli.contacts_helpers import at_revocation_moment, contacts_json, p7b  # noqa: F401 (fixture)
from tests.cli.identity_helpers import (
    fails,
    import_identity,
    ok,
    sha256_hex,
    write_file,
)
from tests.pki.make_pki import REFERENCE_NOW, Pki
from tests.pki.revocation import RevocationPki


def test_import_certificate_files_of_every_kind(pki: Pki, isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cer = write_file(tmp_path / "dave.cer", pki["dave"].cert_der.read_bytes())
    der = write_file(tmp_path / "erin.der", pki["erin"].cert_der.read_bytes())
    bundle = p7b(tmp_path / "carol.p7b", pki["carol"].cert_pem, pki.inter.cert_pem)
    result = ok(["contacts", "import", pki["bob"].cert_pem, cer, der, bundle], capsys)
    for who in ("bob", "carol", "dave", "erin"):
        assert f"Added {who}@example.org" in result.out
    rows = contacts_json(capsys)
    assert sorted(r["email"] for r in rows) == ["bob@example.org", "carol@example.org", "dave@example.org", "erin@example.org"]
    for row in rows:
        assert row["fingerprint_sha256"] == sha256_hex(pki[row["email"].split("@")[0]].cert)
    assert {r["email"]: r["source"] for r in rows}["carol@example.org"] == "file carol.p7b"
    carol = services.Stores.open().contacts.for_address("carol@example.org")[0]
    assert carol.chain == (pki.inter.cert,)

    assert "Nothing new" in ok(["contacts", "import", pki["bob"].cert_der], capsys).out
    assert len(contacts_json(capsys)) == 4


def test_import_signed_mail_remembers_capabilities_and_signing_time(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                    frozen_clock: None) -> None:
    signed = tmp_path / "from-bob.eml"
    ok(["compose", "--from", "bob@example.org", "--to", "alice@example.org", "--subject", "hello", "--body", "signed only\n",
        "--no-encrypt", "--sign-key", pki["bob"].p12, "--passphrase-file", pki.passphrase_file, "-o", signed], capsys)
    assert services.Stores.open().contacts.entries() == []  # composing does not add contacts

    result = ok(["contacts", "import", signed], capsys)
    assert "Added bob@example.org" in result.out
    [row] = json.loads(ok(["contacts", "show", "bob@example.org", "--json"], capsys).out)["certificates"]
    assert row["signing_time"] == REFERENCE_NOW.isoformat()
    assert row["source"] == "signed message from-bob.eml"
    assert row["fingerprint_sha256"] == sha256_hex(pki["bob"].cert)
    [entry] = services.Stores.open().contacts.for_address("bob@example.org")
    assert oids.AES256_CBC in parse_capabilities(entry.capabilities)
    assert entry.chain == (pki.inter.cert,)  # the chain the signature carried


def test_import_mail_signed_by_openssl(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = write_file(tmp_path / "body.txt", b"Content-Type: text/plain\r\n\r\nhello from carol\r\n")
    signed = tmp_path / "from-carol.eml"
    subprocess.run(
        ["openssl", "cms", "-sign", "-signer", str(pki["carol"].cert_pem), "-inkey", str(pki["carol"].key_path),
         "-certfile", str(pki.inter.cert_pem), "-in", str(body), "-out", str(signed),
         "-from", "carol@example.org", "-to", "alice@example.org", "-subject", "hello"],
        check=True, capture_output=True,
    )
    result = ok(["contacts", "import", signed], capsys)
    assert "Added carol@example.org" in result.out
    [row] = json.loads(ok(["contacts", "show", "carol@example.org", "--json"], capsys).out)["certificates"]
    assert row["signing_time"] is not None
    [entry] = services.Stores.open().contacts.for_address("carol@example.org")
    assert oids.AES256_CBC in parse_capabilities(entry.capabilities)


def test_import_encrypted_and_signed_mail_to_my_identity(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         frozen_clock: None) -> None:
    import_identity(pki, "alice", capsys)
    message = tmp_path / "from-frank.eml"
    ok(["compose", "--from", "frank@example.org", "--to", "alice@example.org", "--subject", "x-ray", "--body", "see attached\n",
        "--sign-key", pki["frank"].p12, "--recipient-cert", pki["alice"].cert_pem, "--passphrase-file", pki.passphrase_file,
        "-o", message], capsys)

    fails(["contacts", "import", message], capsys, "--passphrase-file")  # alice's key is needed: no terminal here
    assert services.Stores.open().contacts.entries() == []
    result = ok(["contacts", "import", message, "--passphrase-file", pki.passphrase_file], capsys)
    assert "Added frank@example.org" in result.out
    [row] = json.loads(ok(["contacts", "show", "frank@example.org", "--json"], capsys).out)["certificates"]
    assert row["signing_time"] == REFERENCE_NOW.isoformat()
    assert row["fingerprint_sha256"] == sha256_hex(pki["frank"].cert)


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        pytest.param("garbage", ("garbage.pem", "does not contain a certificate"), id="garbage"),
        pytest.param("ca-only", ("root.cert.pem", "only certificate authorities", "trust add"), id="ca-only"),
        pytest.param("ca-bundle", ("cas.p7b", "only certificate authorities"), id="ca-bundle"),
        pytest.param("no-email", ("No Email", "no e-mail address"), id="no-email"),
        pytest.param("unsigned-mail", ("plain.eml", "not signed"), id="unsigned-mail"),
        pytest.param("missing", ("missing.pem", "does not exist"), id="missing-file"),
    ],
)
def test_import_refusals_store_nothing(kind: str, words: tuple[str, ...], pki: Pki, isolated_home: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = {
        "garbage": lambda: write_file(tmp_path / "garbage.pem", b"\x00\x01 this is not a certificate " * 20),
        "ca-only": lambda: pki.root.cert_pem,
        "ca-bundle": lambda: p7b(tmp_path / "cas.p7b", pki.root.cert_pem, pki.inter.cert_pem),
        "no-email": lambda: pki["noemail"].cert_pem,
        "unsigned-mail": lambda: write_file(tmp_path / "plain.eml", b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n"
                                            b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n"),
        "missing": lambda: tmp_path / "missing.pem",
    }[kind]()
    fails(["contacts", "import", path], capsys, *words)
    assert contacts_json(capsys) == []
    assert not (isolated_home / "contacts.json").exists()


def test_import_signed_mail_uses_the_same_clock_as_open(at_revocation_moment: RevocationPki, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """``services.clock`` is "the one place tests (and a frozen-time demo) replace it".

    PRODUCT BUG (fails today): services.py import_contacts calls open_message(...) without
    ``now=clock()``, so it judges the signature at the real time while ``open`` (and compose,
    contacts list) use the clock. Here the clock is one hour ahead: compose signs at that time,
    ``open`` accepts the message, ``contacts import`` rejects it ("The signing time ... lies in the
    future; the signature is not valid").
    """
    rpki = at_revocation_moment.pki
    signed = tmp_path / "from-bob.eml"
    ok(["--home", tmp_path / "bob-home", "compose", "--from", "bob@example.org", "--to", "alice@example.org", "--subject", "s",
        "--body", "b\n", "--no-encrypt", "--sign-key", rpki["bob"].p12, "--passphrase-file", rpki.passphrase_file, "-o", signed], capsys)
    opened = json.loads(run_main(["--home", str(tmp_path / "other"), "open", str(signed), "--json"], capsys).out)
    assert opened["signatures"][0]["valid"] is True  # (not trusted there: no authority added)

    ok(["contacts", "import", signed], capsys)

    assert [r["email"] for r in contacts_json(capsys, "--offline")] == ["bob@example.org"]


def test_undecryptable_mail_is_not_called_unsigned(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  frozen_clock: None) -> None:
    """An encrypted message for someone else cannot give a contact; the error should say that it
    could not be decrypted.

    PRODUCT BUG (fails today): services.py import_contacts builds its reason only from
    opened.signatures, which is empty when nothing could be decrypted, and falls back to "it is
    not signed" -- for a message that is in fact signed (inside the encryption). Fix: when
    ``opened.encrypted and not opened.decrypted`` raise with ``opened.decryption_problem``.
    """
    message = tmp_path / "frank-to-bob.eml"
    ok(["--home", tmp_path / "frank-home", "compose", "--from", "frank@example.org", "--to", "bob@example.org", "--subject", "s",
        "--body", "b\n", "--sign-key", pki["frank"].p12, "--recipient-cert", pki["bob"].cert_pem,
        "--passphrase-file", pki.passphrase_file, "-o", message], capsys)
    result = fails(["contacts", "import", message], capsys, "frank-to-bob.eml")
    assert "not signed" not in result.err
    assert "decrypt" in result.err.lower()


def test_a_failed_import_adds_nothing(pki: Pki, isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``contacts import good.pem garbage.pem`` exits 2 with an error about garbage.pem.

    PRODUCT BUG (fails today): services.py import_contacts saves each file's contacts as it goes
    (stores.contacts.add per file), so bob is stored although the command failed and printed no
    "Added bob@example.org" line; ``trust add`` of a bundle with a bad member, by contrast, adds
    nothing. Fix: load and check every file first, then add (or report what was added before
    failing).
    """
    garbage = write_file(tmp_path / "garbage.pem", b"not a certificate\n")
    result = fails(["contacts", "import", pki["bob"].cert_pem, garbage], capsys, "garbage.pem")
    assert "bob@example.org" in result.out or contacts_json(capsys) == []
