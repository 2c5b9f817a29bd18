"""``smimehelper contacts`` list, show, remove, export: statuses at a frozen time (the classic ``pki``
at ``REFERENCE_NOW``, whose leaves carry a CRL URL on port 0 that never answers, and
``revocation_pki`` at its ``moment`` with real CRL and OCSP servers on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.cli.compose_helpers import frozen_clock, run_main  # noqa: F401 (fixture)
from tests.cli.contacts_helpers import (  # noqa: F401 (fixture)
    at_revocation_moment,
    contacts_json,
    older_bob,
    statuses,
    with_chain,
)
from tests.cli.identity_helpers import (
    fails,
    import_identity,
    ok,
    pem,
    sha256_hex,
    write_file,
)
from tests.pki.make_pki import REFERENCE_NOW, Pki
from tests.pki.revocation import RevocationPki


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
