"""``smimehelper package``, ``open package.html`` and ``compose --package-for-others`` end to end.

Judges: OpenSSL verifies the signature of the package mail a real SMTP server (aiosmtpd on
127.0.0.1) received; the package inside it is opened with the passphrase the command printed.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
from pathlib import Path

import pytest

from smimehelper.core.package.reader import open_package
from tests.cli.compose_helpers import frozen_clock, run_main  # noqa: F401 (fixture)
from tests.judges import openssl_verify
from tests.pki.make_pki import REFERENCE_NOW, Pki
from tests.transport.conftest import smtp_server_factory, tls_materials  # noqa: F401 (fixtures)
from tests.transport.servers import SmtpServer

PASSWORD = "imap-pass"
SUBJECT = "X-rays of Mrs Miller, born 1957"
BODY = "Dear colleague,\nthe bitewings of Mrs Miller (born 12.03.1957).\n"


@pytest.fixture
def alice(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str], frozen_clock: None):  # type: ignore[no-untyped-def]
    """Alice's identity imported, the test root trusted, Bob a contact; Dave has no certificate."""
    for argv in (["identity", "import", pki["alice"].p12, "--passphrase-file", pki.passphrase_file],
                 ["trust", "add", pki.root.cert_pem], ["contacts", "import", pki["bob"].cert_pem]):
        assert run_main(argv, capsys).code == 0
    files = tmp_path / "files"
    files.mkdir()
    (files / "bitewing.dcm").write_bytes(b"\x00" * 128 + b"DICM" + bytes(range(256)) * 100)
    (files / "letter.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 10)
    password = tmp_path / "password"
    password.write_text(PASSWORD)
    return tmp_path, sorted(files.iterdir()), password


def _add_account(capsys, password: Path, server: SmtpServer, *extra: object) -> None:  # type: ignore[no-untyped-def]
    result = run_main(["account", "add", "--email", "alice@example.org", "--smtp-host", server.host, "--smtp-port", str(server.port),
                       "--security", "starttls", "--username", "dentist@example.org", "--password-file", password,
                       "--cafile", server.tls.cafile, *extra], capsys)
    assert result.code == 0, result.err


def _attach(files: list[Path]) -> list[object]:
    return [x for f in files for x in ("--attach", f)]


def test_package_to_a_file_then_open_it_with_the_printed_passphrase(alice, pki: Pki, capsys) -> None:  # type: ignore[no-untyped-def]
    tmp_path, files, _ = alice
    out = tmp_path / "package.html"
    result = run_main(["package", "--to", "dave@example.org", "--subject", SUBJECT, "--body", BODY, *_attach(files), "-o", out, "--json"], capsys)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    words = report["passphrase"].split(" ")
    assert len(words) == 6 and report["passphrase_generated"] is True
    assert report["recipient"] == "dave@example.org" and report["method"] == "password package"
    assert report["message_id"] is None and report["package"] == str(out)
    assert [f["sha256"] for f in report["files"]] == [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    assert report["passphrase"].encode() not in out.read_bytes()
    # Text output shows the passphrase once, with the advice.
    text = run_main(["package", "--to", "dave@example.org", "--subject", SUBJECT, "--body", BODY, "-o", tmp_path / "p2.html"], capsys)
    assert text.code == 0 and "by phone or text message" in text.out and "not stored anywhere" in text.out

    phrase = tmp_path / "phrase"
    phrase.write_text(report["passphrase"].upper() + "\n")
    opened = run_main(["open", out, "--passphrase-file", phrase, "--save-attachments", tmp_path / "saved", "--json"], capsys)
    assert opened.code == 0, opened.err
    data = json.loads(opened.out)
    assert data["kind"] == "password package" and data["body_text"] == BODY and data["subject"] == SUBJECT
    assert data["from"].endswith("<alice@example.org>")
    for original in files:
        assert (tmp_path / "saved" / original.name).read_bytes() == original.read_bytes()
    human = run_main(["open", out, "--passphrase-file", phrase], capsys)
    assert human.code == 0 and "Every part is intact" in human.out and "bitewing.dcm" in human.out

    phrase.write_text("these are not the right words at all\n")
    wrong = run_main(["open", out, "--passphrase-file", phrase, "--save-attachments", tmp_path / "wrong"], capsys)
    assert wrong.code == 1 and "does not open this package" in wrong.err and "Traceback" not in wrong.err
    assert not (tmp_path / "wrong").exists() or not list((tmp_path / "wrong").iterdir())

    broken = tmp_path / "broken.html"
    data_bytes = out.read_bytes()
    marker = data_bytes.index(b'<script type="application/vnd.smimehelper.chunk">\n') + 200
    broken.write_bytes(data_bytes[:marker] + (b"A" if data_bytes[marker:marker + 1] != b"A" else b"B") + data_bytes[marker + 1:])
    phrase.write_text(report["passphrase"])
    damaged = run_main(["open", broken, "--passphrase-file", phrase, "--save-attachments", tmp_path / "dmg"], capsys)
    assert damaged.code == 1 and "damaged" in damaged.err
    assert not (tmp_path / "dmg").exists() or not list((tmp_path / "dmg").iterdir())


def test_chosen_passphrase_must_be_strong(alice, capsys) -> None:  # type: ignore[no-untyped-def]
    tmp_path, files, _ = alice
    weak = tmp_path / "weak"
    weak.write_text("miller1957\n")
    out = tmp_path / "p.html"
    result = run_main(["package", "--to", "dave@example.org", "--subject", SUBJECT, "--body", BODY, "-o", out, "--passphrase-file", weak], capsys)
    assert result.code == 2 and "too easy to guess" in result.err and not out.exists()
    strong = tmp_path / "strong"
    strong.write_text("Gletscher Pinguin tanzt 1987 im Kupferkessel neben Quitten\n")
    result = run_main(["package", "--to", "dave@example.org", "--subject", SUBJECT, "--body", BODY, "-o", out, "--passphrase-file", strong, "--json"], capsys)
    assert result.code == 0 and json.loads(result.out)["passphrase_generated"] is False
    assert open_package(out, "gletscher pinguin tanzt 1987 im kupferkessel neben quitten").subject == SUBJECT


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--to", "dave@example.org\r\nBcc: eve@example.org"], ("contains a line break",)),
        (["--to", "dave@example.org, eve@example.org"], ("not a valid e-mail address",)),
        (["--to", "dave@example.org", "--attach", "/dev/zero"], ("is a device",)),
        (["--to", "dave@example.org", "--attach", "."], ("folder",)),
        (["--to", "dave@example.org", "--attach", "missing.bin"], ("does not exist",)),
    ],
)
def test_bad_input_is_a_plain_error_and_writes_nothing(alice, capsys, argv, words) -> None:  # type: ignore[no-untyped-def]
    tmp_path, _, _ = alice
    out = tmp_path / "p.html"
    result = run_main(["package", *argv, "--subject", SUBJECT, "--body", BODY, "-o", out], capsys)
    assert result.code == 2, result.err
    assert "Traceback" not in result.err and all(w in result.err for w in words), result.err
    assert not out.exists() and not list(tmp_path.glob(".*.part"))


def test_output_that_is_a_folder_or_device_is_refused(alice, capsys) -> None:  # type: ignore[no-untyped-def]
    import os
    import stat

    tmp_path, _, _ = alice
    targets = [tmp_path]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    targets.append(fifo)
    if os.geteuid() == 0:  # a private copy of /dev/null's node: never the real one
        node = tmp_path / "null"
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        targets.append(node)
    for target in targets:
        result = run_main(["package", "--to", "dave@example.org", "--subject", "s", "--body", "b", "-o", target], capsys)
        assert result.code == 2 and "Cannot write" in result.err and "Traceback" not in result.err, result.err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    if os.geteuid() == 0:
        assert stat.S_ISCHR((tmp_path / "null").stat().st_mode)


def _received(server: SmtpServer, rcpt: str) -> bytes:
    found = [m.data for m in server.received if m.rcpt_tos == (rcpt,)]
    assert len(found) == 1, [m.rcpt_tos for m in server.received]
    return found[0]


def _check_package_mail(pki: Pki, raw: bytes, passphrase: str, files: list[Path]) -> None:
    """OpenSSL verifies the signature; no patient data in subject or text; the package opens."""
    content = openssl_verify(raw, pki.root.cert_pem, attime=REFERENCE_NOW)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_content_type() == "multipart/signed"
    assert message["Subject"].startswith("Encrypted documents from")
    inner = email.message_from_bytes(content, policy=email.policy.default)
    text = inner.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    for secret in ("Miller", "1957", passphrase, *passphrase.split(" ")):
        assert secret not in message["Subject"] and secret not in text
    assert passphrase.encode() not in raw
    assert "phone or text message" in text and "web browser" in text
    (attachment,) = list(inner.iter_attachments())
    assert attachment.get_content_type() == "text/html" and attachment.get_filename().endswith(".html")
    page = attachment.get_payload(decode=True)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.html"
        path.write_bytes(page)
        opened = open_package(path, passphrase, Path(folder) / "out")
        assert opened.subject == SUBJECT and opened.message == BODY
        for original, got in zip(files, opened.files):
            assert got.saved_to is not None and got.saved_to.read_bytes() == original.read_bytes()


def test_package_send_goes_out_signed_through_the_account(alice, pki: Pki, capsys, smtp_server_factory) -> None:  # type: ignore[no-untyped-def]
    tmp_path, files, password = alice
    server = smtp_server_factory("starttls", password=PASSWORD)
    _add_account(capsys, password, server)
    kept = tmp_path / "kept.eml"
    result = run_main(["package", "--to", "Dr Dave <dave@example.org>", "--subject", SUBJECT, "--body", BODY, *_attach(files),
                       "--send", "--password-file", password, "--mail-out", kept, "--json", "--key-passphrase-file", pki.passphrase_file], capsys)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["sent"][0]["state"] == "sent" and report["message_id"].startswith("<")
    raw = _received(server, "dave@example.org")
    assert report["message_id"].encode() in raw
    _check_package_mail(pki, raw, report["passphrase"], files)
    assert kept.exists() and not list(tmp_path.glob(".smimehelper-package-*"))


def test_package_mail_over_the_account_limit_says_save_as_file(alice, pki: Pki, capsys, smtp_server_factory) -> None:  # type: ignore[no-untyped-def]
    tmp_path, files, password = alice
    server = smtp_server_factory("starttls", password=PASSWORD)
    _add_account(capsys, password, server, "--size-limit-mb", "1")
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x01" * 700_000)  # 0.7 MB of files: about 1.3 MB as a package mail
    result = run_main(["package", "--to", "dave@example.org", "--subject", SUBJECT, "--body", BODY, "--attach", big,
                       "--send", "--password-file", password, "--key-passphrase-file", pki.passphrase_file], capsys)
    assert result.code == 2 and "save the package as a file" in result.err, result.err
    assert server.received == []


def test_compose_package_for_others_one_command(alice, pki: Pki, capsys, smtp_server_factory) -> None:  # type: ignore[no-untyped-def]
    from tests.judges import openssl_decrypt

    tmp_path, files, password = alice
    server = smtp_server_factory("starttls", password=PASSWORD)
    _add_account(capsys, password, server)
    out = tmp_path / "out" / "m.eml"
    out.parent.mkdir()
    result = run_main(["compose", "--to", "bob@example.org", "--to", "dave@example.org", "--cc", "erin@example.org",
                       "--subject", SUBJECT, "--body", BODY, *_attach(files), "-o", out, "--package-for-others",
                       "--send", "--password-file", password, "--json", "--passphrase-file", pki.passphrase_file], capsys)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["encrypted_to"] == ["alice@example.org", "bob@example.org"]
    assert [p["recipient"] for p in report["packages"]] == ["dave@example.org", "erin@example.org"]
    assert len({p["passphrase"] for p in report["packages"]}) == 2  # each their own
    smime = _received(server, "bob@example.org")
    openssl_verify(openssl_decrypt(smime, pki["bob"].cert_pem, pki["bob"].key_path), pki.root.cert_pem, attime=REFERENCE_NOW)
    for package in report["packages"]:
        _check_package_mail(pki, _received(server, package["recipient"]), package["passphrase"], files)
        assert Path(package["mail"]).exists()
    assert (out.parent / "m.package-1.html").exists() and (out.parent / "m.package-2.html").exists()


def test_compose_package_for_others_when_nobody_has_a_certificate(alice, pki: Pki, capsys) -> None:  # type: ignore[no-untyped-def]
    tmp_path, files, _ = alice
    out = tmp_path / "m.eml"
    result = run_main(["compose", "--to", "dave@example.org", "--subject", SUBJECT, "--body", BODY, "-o", out,
                       "--package-for-others", "--passphrase-file", pki.passphrase_file], capsys)
    assert result.code == 0, result.err
    assert not out.exists() and (tmp_path / "m.package-1.eml").exists()
    assert "No usable certificate for dave@example.org" in result.out and "by phone or text message" in result.out
    without = run_main(["compose", "--to", "dave@example.org", "--subject", SUBJECT, "--body", BODY, "-o", out,
                        "--passphrase-file", pki.passphrase_file], capsys)
    assert without.code == 2 and "no certificate" in without.err.lower()


def _log(capsys) -> list[dict]:  # type: ignore[no-untyped-def]
    result = run_main(["log", "list", "--json"], capsys)
    assert result.code == 0, result.err
    return json.loads(result.out)["transfers"]


def test_packages_are_in_the_disclosure_log_with_the_files_inside(alice, pki: Pki, capsys, smtp_server_factory) -> None:  # type: ignore[no-untyped-def]
    """Issue 14: a package saved as a file and one sent by mail are each one transfer, method
    "password-package", listing the files inside it (not the .html), with the outcome."""
    tmp_path, files, password = alice
    assert run_main(["package", "--to", "Dr Dave <dave@example.org>", "--subject", SUBJECT, "--body", BODY, *_attach(files),
                     "-o", tmp_path / "usb.html"], capsys).code == 0
    server = smtp_server_factory("starttls", password=PASSWORD)
    _add_account(capsys, password, server)
    sent = run_main(["package", "--to", "erin@example.org", "--subject", SUBJECT, "--body", BODY, *_attach(files), "--send",
                     "--password-file", password, "--key-passphrase-file", pki.passphrase_file, "--json"], capsys)
    assert sent.code == 0, sent.err
    saved, mailed = _log(capsys)[-2:]
    wanted = sorted((f.name, hashlib.sha256(f.read_bytes()).hexdigest()) for f in files)
    for entry, who in ((saved, "dave@example.org"), (mailed, "erin@example.org")):
        assert entry["method"] == "password-package", entry
        assert [r["address"] for r in entry["recipients"]] == [who]
        assert sorted((f["name"], f["sha256"]) for f in entry["files"]) == wanted
    assert saved["state"] == "handed-over"
    assert mailed["state"] == "sent" and mailed["message_id"] == json.loads(sent.out)["message_id"]
