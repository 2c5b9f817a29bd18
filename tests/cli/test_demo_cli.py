"""``smimehelper demo``: a folder whose message OpenSSL opens with the instructions in README-DEMO.

The demo makes its certificates with the real clock, so OpenSSL verifies at the current time.
"""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import io
import json
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from smimehelper.cli.main import main

DEMO_FILES = {
    "demo-message.eml",
    "synthetic-xray.dcm",
    "dr-sender.p12",
    "dr-colleague.p12",
    "demo-ca.cert.pem",
    "README-DEMO.txt",
}
JSON_KEYS = {
    "directory", "message", "size", "signed", "encrypted", "cipher", "encrypted_to",
    "xray", "ca_cert", "sender_p12", "colleague_p12", "readme", "passphrase", "opened_as_colleague",
}
PASSPHRASE = "demo"


def run_main(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def openssl(*args: str | Path, cwd: Path) -> bytes:
    proc = subprocess.run(
        ["openssl", *map(str, args)], cwd=cwd, capture_output=True, timeout=60, check=False
    )
    assert proc.returncode == 0, f"openssl {' '.join(map(str, args))} failed:\n{proc.stderr.decode()}"
    return proc.stdout


def open_as_colleague(folder: Path) -> bytes:
    """Decrypt and verify the demo message exactly as README-DEMO.txt says; return the content."""
    openssl(
        "cms", "-decrypt", "-binary", "-in", "demo-message.eml",
        "-recip", "dr-colleague.cert.pem", "-inkey", "dr-colleague.key.pem",
        "-passin", f"pass:{PASSPHRASE}", "-out", "decrypted.eml",
        cwd=folder,
    )
    return openssl(
        "cms", "-verify", "-binary", "-crlfeol", "-in", "decrypted.eml",
        "-CAfile", "demo-ca.cert.pem", "-purpose", "smimesign",
        cwd=folder,
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str, str]:
    """One demo folder for the read-only checks (making RSA keys takes a moment)."""
    folder = tmp_path_factory.mktemp("demo") / "my-demo"  # not there yet: demo creates it
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["demo", "--dir", str(folder)])
    return folder, code, out.getvalue(), err.getvalue()


def test_demo_writes_the_documented_files(demo_run: tuple[Path, int, str, str]) -> None:
    folder, code, out, err = demo_run
    assert code == 0, err
    assert "Traceback" not in err
    names = {p.name for p in folder.iterdir()}
    assert DEMO_FILES <= names, f"missing: {DEMO_FILES - names}"
    assert not [n for n in names if n.endswith(".part")]
    assert "demo-message.eml" in out and "openssl cms -decrypt" in out


def test_openssl_opens_the_demo_message_as_the_readme_says(demo_run: tuple[Path, int, str, str]) -> None:
    folder = demo_run[0]
    readme = (folder / "README-DEMO.txt").read_text(encoding="utf-8")
    assert "-passin pass:demo" in readme and "-CAfile demo-ca.cert.pem" in readme

    content = open_as_colleague(folder)

    msg = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    assert msg.get_content_type() == "multipart/mixed"
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and "synthetic" in body.get_content()
    attachments = {part.get_filename(): part for part in msg.iter_attachments()}
    xray = attachments["synthetic-xray.dcm"]
    assert xray.get_content_type() == "application/dicom"
    assert xray.get_content() == (folder / "synthetic-xray.dcm").read_bytes()


def readme_openssl_commands(readme: str) -> list[list[str]]:
    """The ``openssl`` command lines of README-DEMO.txt's OpenSSL section, continuations joined."""
    section = readme[readme.index("Open it with OpenSSL"):]
    section = section[: section.index("\n\n")]
    joined = section.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip().startswith("openssl ")]


def test_readme_openssl_commands_work_as_written(demo_run: tuple[Path, int, str, str]) -> None:
    folder = demo_run[0]
    commands = readme_openssl_commands((folder / "README-DEMO.txt").read_text(encoding="utf-8"))
    assert [c[:3] for c in commands] == [["openssl", "cms", "-decrypt"], ["openssl", "cms", "-verify"]]

    for command in commands:
        openssl(*command[1:], cwd=folder)

    content = email.message_from_bytes((folder / "content.txt").read_bytes(), policy=email.policy.default)
    assert content.get_content_type() == "multipart/mixed"


def test_demo_message_headers(demo_run: tuple[Path, int, str, str]) -> None:
    folder = demo_run[0]
    outer = email.message_from_bytes((folder / "demo-message.eml").read_bytes(), policy=email.policy.default)
    assert outer.get_content_type() == "application/pkcs7-mime"
    assert outer["From"].addresses[0].addr_spec == "dr.sender@example.com"
    assert outer["To"].addresses[0].addr_spec == "dr.colleague@example.com"
    assert (folder / "demo-message.eml").stat().st_mode & 0o777 == 0o600


def test_no_private_key_in_the_folder_opens_without_the_passphrase(
    demo_run: tuple[Path, int, str, str],
) -> None:
    folder = demo_run[0]
    key_files = sorted(folder.glob("*.key.pem"))
    p12_files = sorted(folder.glob("*.p12"))
    assert key_files and len(p12_files) == 2

    for path in key_files:
        data = path.read_bytes()
        with pytest.raises((TypeError, ValueError)):
            serialization.load_pem_private_key(data, None)
        serialization.load_pem_private_key(data, PASSPHRASE.encode())  # but the passphrase works
    for path in p12_files:
        data = path.read_bytes()
        with pytest.raises((TypeError, ValueError)):
            pkcs12.load_pkcs12(data, None)
        assert pkcs12.load_pkcs12(data, PASSPHRASE.encode()).key is not None
    for path in folder.iterdir():  # nothing else holds an unencrypted PEM key either
        data = path.read_bytes()
        for marker in (b"-----BEGIN PRIVATE KEY-----", b"-----BEGIN RSA PRIVATE KEY-----",
                       b"-----BEGIN EC PRIVATE KEY-----"):
            assert marker not in data, f"{path.name} holds an unencrypted private key"


def test_demo_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "json-demo"
    code, out, err = run_main(["demo", "--dir", folder, "--json"], capsys)

    assert code == 0, err
    report = json.loads(out)
    assert isinstance(report, dict)
    assert set(report) == JSON_KEYS
    assert report["directory"] == str(folder)
    assert report["message"] == str(folder / "demo-message.eml")
    assert report["size"] == (folder / "demo-message.eml").stat().st_size
    assert report["signed"] is True and report["encrypted"] is True
    assert report["cipher"] == "aes256-cbc"
    assert sorted(report["encrypted_to"]) == ["dr.colleague@example.com", "dr.sender@example.com"]
    assert report["passphrase"] == PASSPHRASE
    for key in ("xray", "ca_cert", "sender_p12", "colleague_p12", "readme"):
        assert Path(report[key]).is_file(), key
        assert Path(report[key]).parent == folder
    opened = report["opened_as_colleague"]
    assert opened["decrypted"] is True and opened["encryption"] == "aes256-cbc"
    assert [(s["valid"], s["trusted"]) for s in opened["signatures"]] == [(True, True)]
    assert [a["filename"] for a in opened["attachments"]] == ["synthetic-xray.dcm"]


def test_demo_without_dir_never_overwrites_an_earlier_demo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    first = run_main(["demo"], capsys)
    assert first[0] == 0, first[2]
    message = (tmp_path / "smimehelper-demo" / "demo-message.eml").read_bytes()

    second = run_main(["demo"], capsys)
    assert second[0] == 0, second[2]

    assert {p.name for p in tmp_path.iterdir()} == {"smimehelper-demo", "smimehelper-demo-2"}
    assert (tmp_path / "smimehelper-demo" / "demo-message.eml").read_bytes() == message
    for name in ("smimehelper-demo", "smimehelper-demo-2"):
        assert DEMO_FILES <= {p.name for p in (tmp_path / name).iterdir()}
    open_as_colleague(tmp_path / "smimehelper-demo-2")
