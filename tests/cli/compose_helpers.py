"""Helpers and fixtures of the ``smimehelper compose`` tests (test_compose_cli.py,
test_compose_input_cli.py), shared with the other CLI tests: the in-process ``run_main``, the
installed console script ``run_script``, the frozen clock and the ``compose`` fixture.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from smimehelper import services
from tests.console import CliResult, console_script, run_main  # noqa: F401 (run_main: re-exported)
from tests.judges import openssl_decrypt, openssl_verify
from tests.pki.make_pki import REFERENCE_NOW, Pki

SENDER = "alice@example.org"
BOB = "bob@example.org"
CAROL = "carol@example.org"
JSON_KEYS = {"path", "size", "message_id", "signed", "encrypted", "cipher", "encrypted_to", "warnings", "bcc_copies", "sent", "parts", "dicom"}

# A tiny fake DICOM Part 10 file (128-byte preamble + "DICM") and a file with JPEG magic.
FAKE_DICOM = b"\x00" * 128 + b"DICM" + bytes(range(256)) * 3 + b"junk\r\n\x00\xff"
FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(255, -1, -1)) * 2 + b"\xff\xd9"

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
skip_if_root = pytest.mark.skipif(IS_ROOT, reason="root can read files without read permission")


# --------------------------------------------------------------------------- helpers


def run_script(*args: str, cwd: Path, stdin: int | None = subprocess.DEVNULL) -> CliResult:
    """The installed ``smimehelper`` console script in a real process."""
    script = str(console_script())
    proc = subprocess.run(
        [script, *args], cwd=cwd, stdin=stdin, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, LC_ALL="C.UTF-8"),
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def leftover_temp_files(directory: Path) -> list[Path]:
    """Temporary files the atomic writer leaves when it fails to clean up (``.OUT.eml.*.part``)."""
    return sorted(directory.glob(".*.part")) if directory.is_dir() else []


def assert_failed_cleanly(result: CliResult, output: Path, *words: str, output_existed: bool = False) -> None:
    """Exit 2, one plain error naming ``words``, no traceback, nothing (new) written."""
    assert result.code == 2, f"exit {result.code}; stderr: {result.err}"
    assert "Traceback" not in result.err and "Traceback" not in result.out, result.err
    assert result.err.strip(), "no error message on stderr"
    for word in words:
        assert word.lower() in result.err.lower(), f"{word!r} not in stderr: {result.err}"
    if not output_existed:
        assert not output.exists(), f"{output} was written although compose failed"
    assert leftover_temp_files(output.parent) == []


def parse_mime(data: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def attachments_by_name(content: bytes) -> dict[str, email.message.EmailMessage]:
    """The attachment parts of a (verified) multipart/mixed entity, by file name."""
    msg = parse_mime(content)
    assert msg.get_content_type() == "multipart/mixed"
    return {part.get_filename(): part for part in msg.iter_attachments()}


def body_text(content: bytes) -> str:
    msg = parse_mime(content)
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


class Compose:
    """Build and run ``smimehelper compose`` lines from the defaults of a good message.

    Defaults: alice -> bob, subject and body given, alice's .p12 with the passphrase file, bob's
    certificate, output ``<tmp>/outdir/OUT.eml``. Keyword arguments replace a default (``None``
    leaves the option out); ``extra`` arguments are appended as they are.
    """

    def __init__(self, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.pki = pki
        self.tmp = tmp_path
        self.capsys = capsys
        self.outdir = tmp_path / "outdir"
        self.outdir.mkdir()
        self.output = self.outdir / "OUT.eml"

    def file(self, name: str, data: bytes) -> Path:
        path = self.tmp / name
        path.write_bytes(data)
        return path

    def argv(
        self,
        *extra: str | Path,
        sender: str | None = SENDER,
        to: Sequence[str] = (BOB,),
        subject: str | None = "Second opinion, please",
        body: str | None = "Dear Bob,\nplease have a look.\n",
        sign_key: Path | None | str = "alice",
        passphrase_file: Path | None | str = "default",
        certs: Sequence[str | Path] = ("bob",),
        output: Path | None | str = "default",
    ) -> list[str]:
        args: list[str | Path] = ["compose"]
        if sender is not None:
            args += ["--from", sender]
        for address in to:
            args += ["--to", address]
        if subject is not None:
            args += ["--subject", subject]
        if body is not None:
            args += ["--body", body]
        if sign_key is not None:
            args += ["--sign-key", self.pki[sign_key].p12 if isinstance(sign_key, str) else sign_key]
        if passphrase_file is not None:
            args += ["--passphrase-file", self.pki.passphrase_file if passphrase_file == "default" else passphrase_file]
        for cert in certs:
            args += ["--recipient-cert", self.pki[cert].cert_pem if isinstance(cert, str) else cert]
        if output is not None:
            args += ["-o", self.output if output == "default" else output]
        args += list(extra)
        return [str(a) for a in args]

    def run(self, *extra: str | Path, **options: object) -> CliResult:
        return run_main(self.argv(*extra, **options), self.capsys)  # type: ignore[arg-type]

    def ok(self, *extra: str | Path, **options: object) -> CliResult:
        result = self.run(*extra, **options)
        assert result.code == 0, f"exit {result.code}; stderr: {result.err}"
        assert "Traceback" not in result.err
        return result


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose as if it were ``REFERENCE_NOW`` whenever the caller did not give a time."""
    monkeypatch.setattr(services, "clock", lambda: REFERENCE_NOW)


@pytest.fixture
def compose(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str], frozen_clock: None) -> Compose:
    return Compose(pki, tmp_path, capsys)


def decrypt_and_verify(pki: Pki, message: Path, reader: str) -> bytes:
    """OpenSSL decrypts ``message`` as ``reader`` and verifies its signature; returns the content."""
    inner = openssl_decrypt(message, pki[reader].cert_pem, pki[reader].key_path)
    return openssl_verify(inner, pki.root.cert_pem, attime=REFERENCE_NOW)
