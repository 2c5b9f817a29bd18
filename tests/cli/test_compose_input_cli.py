"""``smimehelper compose`` given bad input: each gets a specific message and exit code, and no
half-written or replaced output (the previous message stays when a later one fails).
"""

from __future__ import annotations


import pytest

from tests.pki.make_pki import Pki
from tests.cli.compose_helpers import SENDER, BOB, FAKE_DICOM, skip_if_root, leftover_temp_files, assert_failed_cleanly, Compose, decrypt_and_verify
from tests.cli.compose_helpers import frozen_clock, compose  # noqa: F401 (fixtures)


# --------------------------------------------------------------------------- bad input


def test_missing_attachment(compose: Compose) -> None:
    missing = compose.tmp / "no-such-xray.dcm"
    result = compose.run("--attach", missing)
    assert_failed_cleanly(result, compose.output, "no-such-xray.dcm", "does not exist")


@skip_if_root
def test_unreadable_attachment(compose: Compose) -> None:
    locked = compose.file("locked.dcm", FAKE_DICOM)
    locked.chmod(0)
    try:
        result = compose.run("--attach", locked)
    finally:
        locked.chmod(0o600)
    assert_failed_cleanly(result, compose.output, "locked.dcm", "permission denied")


def test_attachment_that_is_a_folder(compose: Compose) -> None:
    folder = compose.tmp / "study-folder"
    folder.mkdir()
    result = compose.run("--attach", folder)
    assert_failed_cleanly(result, compose.output, "study-folder", "folder")


def test_garbage_certificate_file(compose: Compose) -> None:
    garbage = compose.file("bob-garbage.pem", b"this is not a certificate\n" * 5)
    result = compose.run(certs=(garbage,))
    assert_failed_cleanly(result, compose.output, "bob-garbage.pem", "does not contain a certificate")


def test_missing_certificate_file(compose: Compose) -> None:
    result = compose.run(certs=(compose.tmp / "bob-missing.pem",))
    assert_failed_cleanly(result, compose.output, "bob-missing.pem", "does not exist")


@skip_if_root
def test_unreadable_certificate_file(compose: Compose, pki: Pki) -> None:
    locked = compose.file("bob-locked.pem", pki["bob"].cert_pem.read_bytes())
    locked.chmod(0)
    try:
        result = compose.run(certs=(locked,))
    finally:
        locked.chmod(0o600)
    assert_failed_cleanly(result, compose.output, "bob-locked.pem", "permission denied")


def test_wrong_passphrase(compose: Compose, pki: Pki) -> None:
    wrong = compose.file("wrong-pass.txt", b"not-the-passphrase\n")
    result = compose.run(passphrase_file=wrong)
    assert_failed_cleanly(result, compose.output, "passphrase", pki["alice"].p12.name, "not correct")
    assert "not-the-passphrase" not in result.err


@pytest.mark.parametrize(
    ("name", "words"),
    [
        pytest.param("signonly", ("signonly@example.org", "encryption"), id="no-encryption-usage"),
        pytest.param("expired", ("expired@example.org", "expired"), id="expired"),
        pytest.param("notyet", ("notyet@example.org", "not valid before"), id="not-yet-valid"),
        pytest.param("wrongeku", ("wrongeku@example.org", "e-mail protection"), id="wrong-eku"),
        pytest.param("weak", ("weak@example.org", "1024"), id="rsa-1024"),
    ],
)
def test_unusable_recipient_certificate(compose: Compose, name: str, words: tuple[str, ...]) -> None:
    result = compose.run(to=(f"{name}@example.org",), certs=(name,))
    assert_failed_cleanly(result, compose.output, *words)


def test_address_without_certificate(compose: Compose) -> None:
    result = compose.run(to=(BOB, "dave@example.org"), certs=("bob",))
    assert_failed_cleanly(result, compose.output, "dave@example.org", "no certificate")


@pytest.mark.parametrize("address", ["bob at example.org", "bob@", "bob@example", "bob@@example.org"])
def test_malformed_address(compose: Compose, address: str) -> None:
    result = compose.run(to=(address,))
    assert_failed_cleanly(result, compose.output, address, "not a valid e-mail address")


def test_malformed_sender_address(compose: Compose) -> None:
    result = compose.run(sender="alice-at-example.org")
    assert_failed_cleanly(result, compose.output, "alice-at-example.org", "not a valid e-mail address")


def test_neither_signed_nor_encrypted(compose: Compose) -> None:
    result = compose.run("--no-sign", "--no-encrypt")
    assert_failed_cleanly(result, compose.output, "unprotected")


def test_body_file_not_utf8(compose: Compose) -> None:
    latin1 = compose.file("brief-latin1.txt", "Überweisung für Frau Müller\n".encode("latin-1"))
    result = compose.run("--body-file", latin1, body=None)
    assert_failed_cleanly(result, compose.output, "brief-latin1.txt", "UTF-8")


def test_body_file_missing(compose: Compose) -> None:
    result = compose.run("--body-file", compose.tmp / "no-letter.txt", body=None)
    assert_failed_cleanly(result, compose.output, "no-letter.txt", "does not exist")


def test_output_folder_does_not_exist(compose: Compose) -> None:
    output = compose.tmp / "no-such-folder" / "OUT.eml"
    result = compose.run(output=output)
    assert_failed_cleanly(result, output, "no-such-folder", "does not exist")
    assert not output.parent.exists()


def test_sender_address_not_in_the_certificate(compose: Compose) -> None:
    result = compose.run(sender="someone.else@example.org")
    assert_failed_cleanly(result, compose.output, "someone.else@example.org", SENDER)


def test_missing_sign_key(compose: Compose) -> None:
    result = compose.run(sign_key=compose.tmp / "my-missing.p12")
    assert_failed_cleanly(result, compose.output, "my-missing.p12", "does not exist")


def test_garbage_sign_key(compose: Compose) -> None:
    garbage = compose.file("damaged.p12", b"\x30\x82\x01\x00" + b"garbage" * 40)
    result = compose.run(sign_key=garbage)
    assert_failed_cleanly(result, compose.output, "damaged.p12", "damaged")


def test_missing_passphrase_file(compose: Compose) -> None:
    result = compose.run(passphrase_file=compose.tmp / "no-pass.txt")
    assert_failed_cleanly(result, compose.output, "no-pass.txt", "does not exist")


def test_output_is_a_folder(compose: Compose) -> None:
    folder = compose.outdir / "a-folder"
    folder.mkdir()
    result = compose.run(output=folder)
    assert_failed_cleanly(result, folder / "never-written.eml", "a-folder", "cannot write")
    assert folder.is_dir() and list(folder.iterdir()) == []
    assert leftover_temp_files(compose.outdir) == []


def test_body_and_body_file_together_is_a_usage_error(compose: Compose) -> None:
    body_file = compose.file("body.txt", b"text\n")
    result = compose.run("--body-file", body_file)  # --body is among the defaults
    assert_failed_cleanly(result, compose.output, "--body", "not allowed")
    assert "usage:" in result.err


def test_failed_compose_keeps_the_previous_output(compose: Compose) -> None:
    old = b"an earlier message, must survive a failed run\r\n"
    compose.output.write_bytes(old)

    result = compose.run("--attach", compose.tmp / "missing.dcm")

    assert_failed_cleanly(result, compose.output, "missing.dcm", output_existed=True)
    assert compose.output.read_bytes() == old


def test_failure_late_in_compose_keeps_the_previous_output(compose: Compose) -> None:
    """A failure found only when planning (no certificate for dave) also leaves OUT alone."""
    old = b"an earlier message\r\n"
    compose.output.write_bytes(old)

    result = compose.run(to=("dave@example.org",))

    assert_failed_cleanly(result, compose.output, "dave@example.org", output_existed=True)
    assert compose.output.read_bytes() == old


def test_successful_compose_replaces_the_previous_output(compose: Compose, pki: Pki) -> None:
    compose.output.write_bytes(b"an earlier message\r\n")
    compose.ok()
    decrypt_and_verify(pki, compose.output, "bob")
    assert leftover_temp_files(compose.outdir) == []
