"""``smimehelper trust`` and ``smimehelper contacts``: authorities and colleagues' certificates.

Statuses are checked at a frozen time: the classic ``pki`` at ``REFERENCE_NOW`` (its leaves carry
a CRL URL on port 0, which never answers) and ``revocation_pki`` at its ``moment`` (real CRL and
OCSP servers on 127.0.0.1).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from smimehelper import services
from smimehelper.core.cms import oids
from smimehelper.core.cms.capabilities import parse_capabilities
from tests.cli.compose_helpers import frozen_clock, run_main  # noqa: F401 (fixture)
from tests.cli.identity_helpers import fails, files_under, import_identity, ok, pem, sha256_hex, write_file
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


# --------------------------------------------------------------------------- trust


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


# --------------------------------------------------------------------------- contacts import


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


# --------------------------------------------------------------------------- statuses


def test_statuses_at_the_reference_time(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str], frozen_clock: None) -> None:
    names = ("bob", "expired", "notyet", "signonly", "wrongeku", "weak")
    ok(["contacts", "import", *(with_chain(pki, n, tmp_path) for n in names)], capsys)

    # nothing trusted yet: the local problems, and an untrusted issuer for the good certificate
    local = {"expired@example.org": "expired", "notyet@example.org": "not_yet_valid", "signonly@example.org": "wrong_usage",
             "wrongeku@example.org": "wrong_usage", "weak@example.org": "weak_key"}
    assert statuses(capsys, "--offline") == {"bob@example.org": "untrusted_issuer", **local}
    rows = {r["email"]: r for r in contacts_json(capsys)}
    assert "not among your trusted authorities" in rows["bob@example.org"]["reason"]
    assert rows["bob@example.org"]["not_after"] == pki["bob"].cert.not_valid_after_utc.isoformat()
    assert rows["bob@example.org"]["fingerprint_sha256"] == sha256_hex(pki["bob"].cert)
    assert "expired on" in rows["expired@example.org"]["reason"]
    assert "1024" in rows["weak@example.org"]["reason"]

    ok(["trust", "add", pki.root.cert_pem], capsys)
    # bob's CRL URL (port 0) never answers: valid, but revocation could not be checked
    assert statuses(capsys) == {"bob@example.org": "revocation_unknown", **local}
    reason = {r["email"]: r["reason"] for r in contacts_json(capsys)}["bob@example.org"]
    assert "is valid" in reason and "revoked" in reason and "could not be checked" in reason
    # --offline does not even try, and says so
    assert statuses(capsys, "--offline") == {"bob@example.org": "revocation_unknown", **local}
    reason = {r["email"]: r["reason"] for r in contacts_json(capsys, "--offline")}["bob@example.org"]
    assert "is valid" in reason and "offline" in reason and "not checked" in reason
    text = ok(["contacts", "list", "--offline"], capsys).out
    assert "revocation_unknown" in text and "weak_key" in text and sha256_hex(pki["weak"].cert)[:16] in text


def test_root_trusted_but_intermediate_unknown(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str], frozen_clock: None) -> None:
    """A bare leaf certificate whose issuer is nowhere to be found is untrusted; once an
    identity brings the intermediate along (its .p12 chain), the contact becomes usable."""
    ok(["trust", "add", pki.root.cert_pem], capsys)
    ok(["contacts", "import", pki["bob"].cert_pem], capsys)
    assert statuses(capsys, "--offline") == {"bob@example.org": "untrusted_issuer"}
    import_identity(pki, "alice", capsys)
    assert statuses(capsys, "--offline") == {"bob@example.org": "revocation_unknown"}


@pytest.fixture
def at_revocation_moment(revocation_pki: RevocationPki, monkeypatch: pytest.MonkeyPatch) -> RevocationPki:
    revocation_pki.check_clock()
    monkeypatch.setattr(services, "clock", lambda: revocation_pki.moment)
    return revocation_pki


def test_statuses_with_real_revocation_servers(at_revocation_moment: RevocationPki, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    rpki = at_revocation_moment.pki
    ok(["trust", "add", rpki.root.cert_pem], capsys)
    ok(["contacts", "import", *(with_chain(rpki, n, tmp_path) for n in ("bob", "revoked", "offline"))], capsys)

    assert statuses(capsys) == {"bob@example.org": "valid", "revoked@example.org": "revoked",
                                "offline@example.org": "revocation_unknown"}
    rows = {r["email"]: r for r in contacts_json(capsys)}
    assert rows["bob@example.org"]["reason"] is None
    assert "revoked" in rows["revoked@example.org"]["reason"]
    assert "could not be checked" in rows["offline@example.org"]["reason"]
    shown = ok(["contacts", "show", "revoked@example.org"], capsys).out
    assert "revoked" in shown and sha256_hex(rpki["revoked"].cert) in shown
    # offline nothing is fetched: nobody is known to be revoked, nobody is known to be fine
    assert statuses(capsys, "--offline") == {"bob@example.org": "revocation_unknown", "revoked@example.org": "revocation_unknown",
                                             "offline@example.org": "revocation_unknown"}


# --------------------------------------------------------------------------- show, remove, export


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


def test_show_remove_export(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str], frozen_clock: None) -> None:
    old = older_bob(pki)
    old_file = write_file(tmp_path / "bob-2024.pem", pem(old))
    ok(["trust", "add", pki.root.cert_pem], capsys)
    ok(["contacts", "import", with_chain(pki, "bob", tmp_path), old_file, pki["carol"].cert_pem], capsys)

    shown = json.loads(ok(["contacts", "show", "Bob@Example.org", "--json"], capsys).out)["certificates"]
    assert {r["fingerprint_sha256"]: r["status"] for r in shown} == {
        sha256_hex(pki["bob"].cert): "revocation_unknown", sha256_hex(old): "expired"}
    text = ok(["contacts", "show", "bob@example.org"], capsys).out
    assert text.count("bob@example.org: Bob Recipient") == 2
    assert sha256_hex(old) in text and "file bob-2024.pem" in text and "expired" in text
    fails(["contacts", "show", "dave@example.org"], capsys, "dave@example.org")

    printed = ok(["contacts", "export", "bob@example.org"], capsys).out
    assert set(x509.load_pem_x509_certificates(printed.encode())) == {pki["bob"].cert, old}
    out = tmp_path / "bob-export.pem"
    assert str(out) in ok(["contacts", "export", "bob@example.org", "-o", out], capsys).out
    assert set(x509.load_pem_x509_certificates(out.read_bytes())) == {pki["bob"].cert, old}
    fails(["contacts", "export", "dave@example.org", "-o", tmp_path / "dave.pem"], capsys, "dave@example.org")
    assert not (tmp_path / "dave.pem").exists()

    # remove only the old certificate, by a colon-separated fingerprint prefix as certificate viewers show it
    colons = ":".join(sha256_hex(old)[i:i + 2] for i in range(0, 20, 2)).upper()
    assert "Removed 1 certificate of bob@example.org" in ok(["contacts", "remove", "bob@example.org", "--fingerprint", colons], capsys).out
    assert [r["fingerprint_sha256"] for r in contacts_json(capsys) if r["email"] == "bob@example.org"] == [sha256_hex(pki["bob"].cert)]
    fails(["contacts", "remove", "bob@example.org", "--fingerprint", sha256_hex(old)], capsys, "bob@example.org")

    assert "Removed 1 certificate of bob@example.org" in ok(["contacts", "remove", "bob@example.org"], capsys).out
    assert [r["email"] for r in contacts_json(capsys)] == ["carol@example.org"]
    fails(["contacts", "remove", "bob@example.org"], capsys, "no contact certificate", "bob@example.org")
    ok(["contacts", "remove", "carol@example.org"], capsys)
    assert "No contacts yet" in ok(["contacts", "list"], capsys).out


# --------------------------------------------------------------------------- product bugs found while writing these tests


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


def test_show_checks_only_the_address_asked_for(at_revocation_moment: RevocationPki, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """PRODUCT BUG (fails today): contacts_cmd.py run_show computes services.list_contacts(stores)
    -- a full online revocation check of *every* contact (up to FETCH_TIMEOUT_SECONDS each when an
    authority is slow) -- and then keeps the rows of one address. Fix: check only
    stores.contacts.for_address(address) (and offer --offline as list does)."""
    rp = at_revocation_moment
    rpki = rp.pki
    ok(["trust", "add", rpki.root.cert_pem], capsys)
    ok(["contacts", "import", with_chain(rpki, "bob", tmp_path)], capsys)
    rp.crl_server.clear_requests()
    ok(["contacts", "list"], capsys)
    one = len(rp.crl_server.requests)
    assert one >= 1
    ok(["contacts", "import", *(with_chain(rpki, n, tmp_path) for n in ("carol", "dave", "erin", "revoked"))], capsys)

    rp.crl_server.clear_requests()
    ok(["contacts", "show", "bob@example.org"], capsys)

    assert len(rp.crl_server.requests) == one, rp.crl_server.requests


def test_addresses_from_certificates_are_printed_safely(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An e-mail address comes from a certificate (from a file or a signed message) and may hold
    terminal escape sequences, like the names that output.printable() already escapes.

    PRODUCT BUG (fails today): contacts_cmd.py prints ``entry.email`` raw in run_import
    ("Added ..."), run_list and run_show (the reason next to it *is* escaped), so ESC[2J reaches
    the terminal. Fix: printable(entry.email) everywhere an address is printed.
    """
    evil = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Evil")]))
        .issuer_name(pki.inter.cert.subject).public_key(pki["bob"].cert.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(REFERENCE_NOW - dt.timedelta(days=1)).not_valid_after(REFERENCE_NOW + dt.timedelta(days=300))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(# cryptography 45+ refuses such a value in RFC822Name(); a real attacker is not so polite.
        x509.SubjectAlternativeName([x509.RFC822Name._init_without_validation("evil\x1b[2J@example.org")]), critical=False)
        .sign(pki.inter.key, hashes.SHA256())
    )
    cert_file = write_file(tmp_path / "evil.pem", pem(evil))
    outputs = [ok(["contacts", "import", cert_file], capsys).out, ok(["contacts", "list", "--offline"], capsys).out,
               ok(["contacts", "show", "evil\x1b[2J@example.org"], capsys).out]
    for out in outputs:
        assert "\x1b" not in out, repr(out)


def test_damaged_store_files_are_reported(pki: Pki, isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok(["contacts", "import", pki["bob"].cert_pem], capsys)
    (isolated_home / "contacts.json").write_text("{ half a document", encoding="utf-8")
    fails(["contacts", "list"], capsys, "contacts.json", "damaged")
    (isolated_home / "trust.json").write_text('{"kind": "contacts", "schema": 1, "entries": []}', encoding="utf-8")
    fails(["trust", "list"], capsys, "trust.json", "not a smimehelper trust file")
    (isolated_home / "trust.json").write_text('{"kind": "trust", "schema": 99, "anchors": []}', encoding="utf-8")
    fails(["trust", "list"], capsys, "newer smimehelper")


def test_strict_revocation_setting_refuses_unchecked_certificates(pki, tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """bob's CRL address answers nothing: soft mode warns and sends, strict mode refuses."""
    from smimehelper import services
    from smimehelper.cli.main import main

    monkeypatch.setattr(services, "clock", lambda: pki.now)
    assert main(["identity", "import", str(pki.entity("alice").p12), "--passphrase-file", str(pki.passphrase_file)]) == 0
    assert main(["trust", "add", str(pki.root.cert_pem)]) == 0
    assert main(["contacts", "import", str(pki.entity("bob").cert_pem)]) == 0
    compose = ["compose", "--to", "bob@example.org", "--subject", "s", "--body", "b", "--passphrase-file", str(pki.passphrase_file)]
    assert main([*compose, "-o", str(tmp_path / "soft.eml")]) == 0
    assert "revoked could not be checked" in capsys.readouterr().err
    assert main(["trust", "revocation", "strict"]) == 0
    assert "strict" in capsys.readouterr().out
    assert main([*compose, "-o", str(tmp_path / "strict.eml")]) == 2
    assert "could not be checked" in capsys.readouterr().err and not (tmp_path / "strict.eml").exists()
