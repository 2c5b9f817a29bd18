"""The promise of the stores: import your certificate, your authority and a colleague once, then
``compose --to ADDRESS`` and ``open MESSAGE`` need no key, certificate or trust options.

In-process with the clock frozen at ``REFERENCE_NOW`` (or the revocation PKI's ``moment``), and
once in real processes at the real time with the revocation PKI (built around the real time).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from smimehelper import services
from tests.cli.compose_helpers import frozen_clock, run_main, run_script  # noqa: F401 (fixture)
from tests.cli.contacts_helpers import at_revocation_moment, contacts_json, with_chain  # noqa: F401 (fixture)
from tests.cli.identity_helpers import fails, files_under, import_identity, ok, parse_mime
from tests.judges import openssl_decrypt, openssl_verify
from tests.pki.make_pki import REFERENCE_NOW, Pki
from tests.pki.revocation import RevocationPki


def set_up_alice(pki: Pki, capsys: pytest.CaptureFixture[str], *contacts: Path, home: Path | None = None) -> list[str]:
    """identity import alice.p12 + trust add root + contacts import CONTACTS; returns the --home prefix."""
    prefix = ["--home", str(home)] if home is not None else []
    import_identity(pki, "alice", capsys, *prefix)
    ok([*prefix, "trust", "add", pki.root.cert_pem], capsys)
    if contacts:
        ok([*prefix, "contacts", "import", *contacts], capsys)
    return prefix


def compose_argv(to: str, out: Path, pki: Pki, *extra: object) -> list[object]:
    return ["compose", "--to", to, "--subject", "Referral", "--body", "Dear colleague,\nthe x-ray.\n", "-o", out,
            "--passphrase-file", pki.passphrase_file, *extra]


# --------------------------------------------------------------------------- compose from the stores


def test_compose_and_open_with_nothing_but_an_address(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      frozen_clock: None) -> None:
    set_up_alice(pki, capsys, pki["bob"].cert_pem)
    out = tmp_path / "m.eml"

    result = ok(compose_argv("bob@example.org", out, pki, "--json"), capsys)

    report = json.loads(result.out)
    assert report["signed"] is True and report["encrypted"] is True
    assert sorted(report["encrypted_to"]) == ["alice@example.org", "bob@example.org"]
    assert any("revoked" in w for w in report["warnings"]), report["warnings"]  # bob's CRL cannot be fetched
    headers = parse_mime(out.read_bytes())
    assert str(headers["From"]) == "Dr Alice Sender <alice@example.org>"
    for reader in ("bob", "alice"):
        inner = openssl_decrypt(out, pki[reader].cert_pem, pki[reader].key_path)
        content = openssl_verify(inner, pki.root.cert_pem, attime=REFERENCE_NOW)
        assert b"the x-ray." in content

    # open: her own sent copy, with no --key and no --trust
    opened = ok(["open", out, "--passphrase-file", pki.passphrase_file], capsys).out
    assert "decrypted with your key" in opened and "valid and trusted" in opened and "Everything checks out." in opened
    as_json = json.loads(ok(["open", out, "--passphrase-file", pki.passphrase_file, "--json"], capsys).out)
    assert as_json["decrypted"] is True
    assert [(s["valid"], s["trusted"], s["signer_email"]) for s in as_json["signatures"]] == [(True, True, "alice@example.org")]
    assert [r["email"] for r in contacts_json(capsys)] == ["bob@example.org"]  # her own signature is no contact


def test_compose_text_output_and_the_explicit_sender(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     frozen_clock: None) -> None:
    set_up_alice(pki, capsys, pki["bob"].cert_pem, pki["carol"].cert_pem)
    out = tmp_path / "m.eml"
    result = ok(compose_argv("bob@example.org", out, pki, "--from", "Alice <ALICE@example.org>", "--cc", "carol@example.org"), capsys)
    assert "Signed with your certificate." in result.out
    assert "alice@example.org, bob@example.org, carol@example.org" in result.out
    assert result.err.startswith("Warning: ")
    for reader in ("bob", "carol"):
        openssl_decrypt(out, pki[reader].cert_pem, pki[reader].key_path)
    fails(compose_argv("bob@example.org", tmp_path / "x.eml", pki, "--from", "frank@example.org"), capsys, "frank@example.org")
    assert not (tmp_path / "x.eml").exists()


def test_compose_to_an_address_without_a_contact(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 frozen_clock: None) -> None:
    set_up_alice(pki, capsys, pki["bob"].cert_pem)
    out = tmp_path / "m.eml"
    fails(compose_argv("dave@example.org", out, pki), capsys, "dave@example.org", "no certificate", "contacts import")
    fails(compose_argv("bob@example.org", out, pki, "--cc", "Dave <dave@example.org>"), capsys, "dave@example.org")
    assert not out.exists() and list(tmp_path.glob(".*.part")) == []


@pytest.mark.parametrize(
    ("name", "words"),
    [("expired", ("expired@example.org", "expired")), ("weak", ("weak@example.org", "1024")),
     ("signonly", ("signonly@example.org", "encryption"))],
)
def test_compose_to_an_unusable_contact(name: str, words: tuple[str, ...], pki: Pki, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str], frozen_clock: None) -> None:
    set_up_alice(pki, capsys, pki[name].cert_pem)
    out = tmp_path / "m.eml"
    fails(compose_argv(f"{name}@example.org", out, pki), capsys, *words)
    assert not out.exists()


def test_compose_without_an_identity(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str], frozen_clock: None) -> None:
    ok(["contacts", "import", pki["bob"].cert_pem], capsys)
    out = tmp_path / "m.eml"
    fails(compose_argv("bob@example.org", out, pki), capsys, "identity import")
    assert not out.exists()


def test_compose_to_a_revoked_contact(at_revocation_moment: RevocationPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rpki = at_revocation_moment.pki
    set_up_alice(rpki, capsys, with_chain(rpki, "revoked", tmp_path), rpki["bob"].cert_pem)
    out = tmp_path / "m.eml"

    fails(compose_argv("revoked@example.org", out, rpki), capsys, "revoked@example.org", "revoked")
    fails(compose_argv("bob@example.org", out, rpki, "--cc", "revoked@example.org"), capsys, "revoked@example.org", "revoked")
    assert not out.exists()

    report = json.loads(ok(compose_argv("bob@example.org", out, rpki, "--json"), capsys).out)
    assert report["warnings"] == []  # bob is "valid": checked online, not revoked
    inner = openssl_decrypt(out, rpki["bob"].cert_pem, rpki["bob"].key_path)
    openssl_verify(inner, rpki.root.cert_pem, attime=at_revocation_moment.moment)


# --------------------------------------------------------------------------- open harvests signers


def test_open_a_signed_message_harvests_the_signer(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   frozen_clock: None) -> None:
    frank_home = tmp_path / "frank-home"
    from_frank = tmp_path / "from-frank.eml"
    ok(["--home", frank_home, "compose", "--from", "frank@example.org", "--to", "alice@example.org", "--subject", "Re: referral",
        "--body", "Thanks!\n", "--sign-key", pki["frank"].p12, "--recipient-cert", pki["alice"].cert_pem,
        "--passphrase-file", pki.passphrase_file, "-o", from_frank], capsys)

    set_up_alice(pki, capsys)
    assert contacts_json(capsys) == []
    result = ok(["open", from_frank, "--passphrase-file", pki.passphrase_file], capsys)
    assert "valid and trusted, signed by frank@example.org" in result.out and "Thanks!" in result.out

    [row] = contacts_json(capsys)
    assert row["email"] == "frank@example.org"
    assert row["source"] == "signed message from-frank.eml"
    assert row["signing_time"] == REFERENCE_NOW.isoformat()
    assert "frank@example.org" in ok(["contacts", "list"], capsys).out

    # ...so the reply needs nothing but his address (frank has an EC key)
    reply = tmp_path / "reply.eml"
    ok(compose_argv("frank@example.org", reply, pki), capsys)
    inner = openssl_decrypt(reply, pki["frank"].cert_pem, pki["frank"].key_path)
    openssl_verify(inner, pki.root.cert_pem, attime=REFERENCE_NOW)


def test_open_an_untrusted_signed_message_does_not_harvest(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           frozen_clock: None) -> None:
    from_frank = tmp_path / "from-frank.eml"
    ok(["--home", tmp_path / "frank-home", "compose", "--from", "frank@example.org", "--to", "alice@example.org", "--subject", "s",
        "--body", "b\n", "--no-encrypt", "--sign-key", pki["frank"].p12, "--passphrase-file", pki.passphrase_file,
        "-o", from_frank], capsys)
    import_identity(pki, "alice", capsys)  # no authority trusted
    result = run_main(["open", str(from_frank)], capsys)
    assert result.code == 1, result.err
    assert "NOT TRUSTED" in result.out
    assert contacts_json(capsys) == []


def test_open_needs_the_passphrase_in_a_real_process(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     frozen_clock: None) -> None:
    set_up_alice(pki, capsys, pki["bob"].cert_pem)
    out = tmp_path / "m.eml"
    ok(compose_argv("bob@example.org", out, pki), capsys)
    result = run_script("open", str(out), cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert result.code == 2, result.err
    assert "--passphrase-file" in result.err and "Traceback" not in result.err


# --------------------------------------------------------------------------- --home


def test_home_option_overrides_the_environment(pki: Pki, isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               frozen_clock: None) -> None:
    home = tmp_path / "usb-stick" / "smimehelper"
    prefix = set_up_alice(pki, capsys, pki["bob"].cert_pem, home=home)

    assert {p.relative_to(home).as_posix() for p in files_under(home)} >= {"trust.json", "contacts.json", "settings.json"}
    assert any(p.suffix == ".key" for p in files_under(home / "identities"))
    assert files_under(isolated_home) == []  # $SMIMEHELPER_HOME untouched

    out = tmp_path / "m.eml"
    ok([*prefix, *compose_argv("bob@example.org", out, pki)], capsys)
    openssl_decrypt(out, pki["bob"].cert_pem, pki["bob"].key_path)
    # without --home the (empty) $SMIMEHELPER_HOME is used
    fails(compose_argv("bob@example.org", tmp_path / "n.eml", pki), capsys, "identity import")
    assert json.loads(ok(["identity", "list", "--json"], capsys).out)["identities"] == []
    assert json.loads(ok(["trust", "list", "--json"], capsys).out)["authorities"] == []
    assert [r["email"] for r in contacts_json(capsys, "--offline")] == []
    assert files_under(isolated_home) == []
    assert services.Stores.open(home).contacts.for_address("bob@example.org")


def test_home_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_bytes(b"x")
    fails(["--home", not_a_folder, "identity", "list"], capsys, str(not_a_folder))


# --------------------------------------------------------------------------- real processes, real time


def test_workflow_in_real_processes(revocation_pki: RevocationPki, isolated_home: Path, tmp_path: Path) -> None:
    """The console script end to end without a frozen clock (the revocation PKI is built around
    the real time)."""
    rpki = revocation_pki.pki

    def script(*args: object) -> str:
        result = run_script(*map(str, args), cwd=tmp_path)
        assert result.code == 0, f"{args}: exit {result.code}; {result.err}"
        assert "Traceback" not in result.err
        return result.out

    script("identity", "import", rpki["alice"].p12, "--passphrase-file", rpki.passphrase_file)
    script("trust", "add", rpki.root.cert_pem)
    script("contacts", "import", rpki["bob"].cert_pem)
    out = tmp_path / "m.eml"
    script("compose", "--to", "bob@example.org", "--subject", "s", "--body", "real processes\n", "-o", out,
           "--passphrase-file", rpki.passphrase_file)
    inner = openssl_decrypt(out, rpki["bob"].cert_pem, rpki["bob"].key_path)
    assert b"real processes" in openssl_verify(inner, rpki.root.cert_pem, attime=None)
    opened = json.loads(script("open", out, "--passphrase-file", rpki.passphrase_file, "--json"))
    assert opened["decrypted"] is True and opened["signatures"][0]["trusted"] is True
    assert {p.name for p in files_under(isolated_home)} >= {"trust.json", "contacts.json", "settings.json"}
