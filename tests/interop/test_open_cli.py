"""``smimehelper open`` end to end, on messages made by OpenSSL and NSS (the interop corpus).

Contract under test::

    smimehelper open MESSAGE.eml [--key FILE.p12 --passphrase-file FILE] [--trust CERT ...]
                     [--save-attachments DIR] [--json]

``--json`` prints exactly one JSON object with fixed keys; exit 0 when the message decrypted (if
encrypted) and every signature is valid and trusted, 1 when a security verdict failed, 2 for bad
input or usage, always without a traceback. ``--save-attachments`` writes every file under a clean
name directly into DIR, 0600, never replacing a file.

Most tests run the CLI in-process (``smimehelper.cli.main.main``); two run the installed console
script. The CLI judges trust at the real time, as the corpus does when it computes the expected
verdicts (see ``tests/interop/corpus.py``), so expectations come from the ``Vector``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import random
import stat
import subprocess
from pathlib import Path

import pytest

from tests.console import CliResult, console_script, run_main  # noqa: F401 (run_main: re-exported)
from tests.interop.corpus import Vector
from tests.pki.make_pki import Pki

JSON_KEYS = {
    "from", "to", "subject", "date", "encrypted", "decrypted", "encryption", "signatures",
    "body_text", "body_truncated", "sender_problem", "attachments",
}
SIGNATURE_KEYS = {"valid", "trusted", "signer_email", "signer_subject", "digest", "signed_at", "reason"}
ATTACHMENT_KEYS = {"filename", "content_type", "size", "sha256"}

GOOD = "openssl-nested-signed-then-encrypted"
JSON_VECTORS = [
    "openssl-nested-signed-then-encrypted",
    "openssl-enc-rsa-3des-cbc",
    "openssl-sign-rsa-sha1",
    "openssl-enc-rsa-aes256-gcm",
    "nss-nested-signed-then-encrypted",
    "openssl-nested-triple-wrapped",
]
DEVICE_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 4 + b"\xff\xd9"


# --------------------------------------------------------------------------- helpers


def run_script(*args: str | Path, cwd: Path) -> CliResult:
    """The installed ``smimehelper`` console script in a real process (no terminal on stdin)."""
    script = str(console_script())
    proc = subprocess.run(
        [script, *map(str, args)], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=120, env=dict(os.environ, LC_ALL="C.UTF-8"),
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def assert_no_traceback(result: CliResult) -> None:
    assert "Traceback" not in result.err and "Traceback" not in result.out, result.err
    assert "Something went wrong inside smimehelper" not in result.err, result.err


def assert_failed_cleanly(result: CliResult, *words: str) -> None:
    """Exit 2, one plain error on stderr naming ``words``, nothing on stdout."""
    assert result.code == 2, f"exit {result.code}; stdout: {result.out}; stderr: {result.err}"
    assert_no_traceback(result)
    assert result.err.startswith("Error: "), result.err
    assert result.out == "", f"stdout should be empty on bad input: {result.out}"
    for word in words:
        assert word.lower() in result.err.lower(), f"{word!r} not in stderr: {result.err}"


def parse_json(result: CliResult) -> dict:
    """The one JSON object on stdout, with exactly the contract's keys and types."""
    assert_no_traceback(result)
    data = json.loads(result.out)  # raises on anything but exactly one JSON value
    assert isinstance(data, dict)
    assert set(data) == JSON_KEYS, set(data) ^ JSON_KEYS
    assert isinstance(data["from"], str)
    assert isinstance(data["to"], list) and all(isinstance(t, str) for t in data["to"])
    assert isinstance(data["subject"], str)
    assert data["date"] is None or isinstance(data["date"], str)
    if data["date"] is not None:
        dt.datetime.fromisoformat(data["date"])
    assert isinstance(data["encrypted"], bool) and isinstance(data["decrypted"], bool)
    assert data["encryption"] is None or isinstance(data["encryption"], str)
    assert data["body_text"] is None or isinstance(data["body_text"], str)
    assert isinstance(data["signatures"], list) and isinstance(data["attachments"], list)
    for s in data["signatures"]:
        assert set(s) == SIGNATURE_KEYS, set(s) ^ SIGNATURE_KEYS
        assert isinstance(s["valid"], bool) and isinstance(s["trusted"], bool)
        assert s["signer_email"] is None or isinstance(s["signer_email"], str)
        assert isinstance(s["signer_subject"], str) and isinstance(s["digest"], str)
        assert s["signed_at"] is None or isinstance(s["signed_at"], str)
        if s["signed_at"] is not None:
            dt.datetime.fromisoformat(s["signed_at"])
        assert s["reason"] is None or isinstance(s["reason"], str)
        if not (s["valid"] and s["trusted"]):
            assert s["reason"], "a failed verdict must say why"
    for a in data["attachments"]:
        assert set(a) == ATTACHMENT_KEYS, set(a) ^ ATTACHMENT_KEYS
        assert isinstance(a["filename"], str) and isinstance(a["content_type"], str)
        assert isinstance(a["size"], int) and not isinstance(a["size"], bool)
        assert isinstance(a["sha256"], str) and len(a["sha256"]) == 64
    return data


def expected_exit(vector: Vector) -> int:
    good = all(s.valid and s.trusted for s in vector.signatures)
    return 0 if good else 1


def key_args(pki: Pki, who: str | None) -> list[str | Path]:
    if who is None:
        return []
    return ["--key", pki.entity(who).p12, "--passphrase-file", pki.passphrase_file]


def open_argv(vector: Vector, pki: Pki, *extra: str | Path, key: str | None = "recipient", trust: bool = True) -> list[str | Path]:
    who = vector.recipient if key == "recipient" else key
    argv: list[str | Path] = ["open", vector.path, *key_args(pki, who)]
    if trust:
        argv += ["--trust", pki.root.cert_pem]
    return argv + list(extra)


def norm(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").strip()


def tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A current directory of its own, so a relative path the product wrongly uses shows up."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


# --------------------------------------------------------------------------- JSON on corpus vectors


@pytest.mark.parametrize("name", JSON_VECTORS)
def test_json_output_matches_the_vector(
    name: str, corpus_by_name: dict[str, Vector], pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    vector = corpus_by_name[name]
    result = run_main([*open_argv(vector, pki), "--json"], capsys)
    data = parse_json(result)
    assert result.code == expected_exit(vector), (result.code, result.err, data["signatures"])
    assert result.err == "", result.err

    sender = vector.signatures[0].signer if vector.signatures else "alice"
    assert pki.entity(sender).email in data["from"]
    assert any("bob@example.org" in t for t in data["to"]), data["to"]
    assert data["subject"] == f"[smimehelper interop] {name}"
    assert data["date"] is not None

    assert data["encrypted"] is vector.encrypted
    assert data["decrypted"] is vector.encrypted
    assert data["encryption"] == vector.encryption

    got = [(s["valid"], s["trusted"], s["signer_email"], s["digest"]) for s in data["signatures"]]
    want = [(e.valid, e.valid and e.trusted, pki.entity(e.signer).email, e.digest) for e in vector.signatures]
    assert got == want, [s["reason"] for s in data["signatures"]]
    for s, e in zip(data["signatures"], vector.signatures):
        assert s["signer_subject"], "the signer's certificate subject is missing"
        if e.signing_time is not None:
            assert s["signed_at"] is not None
            assert dt.datetime.fromisoformat(s["signed_at"]) == e.signing_time

    assert norm(data["body_text"]) == norm(vector.body_text)
    assert [(a["filename"], a["size"], a["sha256"]) for a in data["attachments"]] == [
        (filename, len(payload), hashlib.sha256(payload).hexdigest()) for filename, payload in vector.attachments
    ]
    types = [a["content_type"] for a in data["attachments"]]
    assert types[0] == "application/dicom" and all("/" in t for t in types)


def test_json_encryption_names(corpus_by_name: dict[str, Vector], pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    """The content cipher is named as the issue says: aes256-cbc, aes256-gcm, 3des-cbc."""
    for name, cipher in [
        ("openssl-nested-signed-then-encrypted", "aes256-cbc"),
        ("openssl-enc-rsa-aes256-gcm", "aes256-gcm"),
        ("openssl-enc-rsa-3des-cbc", "3des-cbc"),
    ]:
        data = parse_json(run_main([*open_argv(corpus_by_name[name], pki), "--json"], capsys))
        assert data["encryption"] == cipher, name


def test_json_triple_wrapped_signatures_outermost_first(
    corpus_by_name: dict[str, Vector], pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    vector = corpus_by_name["openssl-nested-triple-wrapped"]
    data = parse_json(run_main([*open_argv(vector, pki), "--json"], capsys))
    assert [s["signer_email"] for s in data["signatures"]] == ["frank@example.org", "alice@example.org"]


# --------------------------------------------------------------------------- exit 1: a verdict failed


def test_wrong_key_cannot_decrypt(corpus_by_name: dict[str, Vector], pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    vector = corpus_by_name[GOOD]
    result = run_main([*open_argv(vector, pki, key="carol"), "--json"], capsys)
    data = parse_json(result)
    assert result.code == 1, result.err
    assert data["encrypted"] is True and data["decrypted"] is False
    assert data["body_text"] is None and data["attachments"] == []
    assert data["signatures"] == []  # the signature is inside the encryption


def test_no_key_for_an_encrypted_message(corpus_by_name: dict[str, Vector], pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    vector = corpus_by_name["openssl-enc-rsa-aes256-gcm"]
    result = run_main([*open_argv(vector, pki, key=None), "--json"], capsys)
    data = parse_json(result)
    assert result.code == 1, result.err
    assert data["encrypted"] is True and data["decrypted"] is False
    assert data["body_text"] is None and data["attachments"] == []


def test_without_trust_a_valid_signature_is_not_trusted(
    corpus_by_name: dict[str, Vector], pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    vector = corpus_by_name[GOOD]
    result = run_main([*open_argv(vector, pki, trust=False), "--json"], capsys)
    data = parse_json(result)
    assert result.code == 1, result.err
    assert data["decrypted"] is True
    [signature] = data["signatures"]
    assert signature["valid"] is True and signature["trusted"] is False
    assert signature["reason"]
    # the content is still shown: a missing anchor is not a reason to hide it
    assert norm(data["body_text"]) == norm(vector.body_text)


def test_sha1_signature_is_not_valid(corpus_by_name: dict[str, Vector], pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    vector = corpus_by_name["openssl-sign-rsa-sha1"]
    result = run_main([*open_argv(vector, pki), "--json"], capsys)
    data = parse_json(result)
    assert result.code == 1, result.err
    [signature] = data["signatures"]
    assert signature["valid"] is False and signature["digest"] == "sha1"
    assert "sha-1" in signature["reason"].lower() or "sha1" in signature["reason"].lower(), signature["reason"]


# --------------------------------------------------------------------------- exit 2: bad input


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_missing_message_file(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-message.eml"
    result = run_main(["open", missing, "--trust", pki.root.cert_pem, "--json"], capsys)
    assert_failed_cleanly(result, "does not exist", missing.name)


def test_message_is_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_failed_cleanly(run_main(["open", tmp_path], capsys), "folder")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        pytest.param(random.Random(7).randbytes(4096), ("not an e-mail message",), id="random-bytes"),
        pytest.param(b"", ("empty",), id="empty-file"),
        pytest.param(FAKE_JPEG, ("not an e-mail message",), id="jpeg"),
        pytest.param(b"Dear colleague,\r\nplease find the x-ray attached.\r\n", ("not an e-mail message",), id="plain-text"),
        pytest.param(b"\x00" * 128 + b"DICM" + bytes(500), ("not an e-mail message",), id="dicom"),
    ],
)
def test_not_a_mime_message(content: bytes, words: tuple[str, ...], pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "message.eml", content)
    result = run_main(["open", path, *key_args(pki, "bob"), "--trust", pki.root.cert_pem, "--json"], capsys)
    assert_failed_cleanly(result, *words)


def test_wrong_passphrase(corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wrong = write(tmp_path / "wrong.txt", b"not-the-passphrase\n")
    vector = corpus_by_name[GOOD]
    result = run_main(["open", vector.path, "--key", pki["bob"].p12, "--passphrase-file", wrong, "--json"], capsys)
    assert_failed_cleanly(result, "passphrase", "not correct", pki["bob"].p12.name)
    assert "not-the-passphrase" not in result.err


def test_no_passphrase_and_no_terminal(corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path) -> None:
    """A real process with stdin not a terminal: the passphrase cannot be asked for."""
    vector = corpus_by_name[GOOD]
    result = run_script("open", vector.path, "--key", pki["bob"].p12, "--json", cwd=tmp_path)
    assert_failed_cleanly(result, "--passphrase-file")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(random.Random(11).randbytes(2048), id="random-bytes"),
        pytest.param(b"", id="empty"),
        pytest.param(b"-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n", id="fake-pem"),
    ],
)
def test_garbage_key_file(content: bytes, corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = write(tmp_path / "mine.p12", content)
    vector = corpus_by_name[GOOD]
    result = run_main(["open", vector.path, "--key", key, "--passphrase-file", pki.passphrase_file, "--json"], capsys)
    assert_failed_cleanly(result, "mine.p12")


def test_missing_key_file(corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vector = corpus_by_name[GOOD]
    result = run_main(["open", vector.path, "--key", tmp_path / "gone.p12", "--passphrase-file", pki.passphrase_file], capsys)
    assert_failed_cleanly(result, "gone.p12")


def test_garbage_trust_file(corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    anchor = write(tmp_path / "root.pem", b"this is not a certificate\n")
    vector = corpus_by_name["openssl-sign-rsa-sha256"]
    result = run_main(["open", vector.path, "--trust", anchor, "--json"], capsys)
    assert_failed_cleanly(result, "root.pem", "certificate")


def test_missing_message_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(["open"], capsys)
    assert result.code == 2
    assert "usage:" in result.err
    assert_no_traceback(result)


def _truncate_in_base64(data: bytes, at_line_end: bool = False) -> bytes:
    """Cut in the middle of the base64 body: inside a line, or after a whole line (valid base64
    that decodes to a CMS structure ending too early)."""
    body = data.index(b"\r\n\r\n") + 4
    middle = body + (len(data) - body) // 2
    if at_line_end:
        middle = data.index(b"\r\n", middle) + 2
        cut = data[:middle]
        assert len(cut) < len(data) - 100
        return cut
    cut = data[:middle]
    assert cut[-1:] not in (b"\r", b"\n")
    return cut


@pytest.mark.parametrize("at_line_end", [False, True], ids=["mid-line", "line-end"])
@pytest.mark.parametrize("name", ["openssl-enc-rsa-aes256-cbc", "openssl-enc-rsa-aes256-gcm", "nss-nested-signed-then-encrypted"])
def test_truncated_encrypted_message(
    name: str, at_line_end: bool, corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vector = corpus_by_name[name]
    path = write(tmp_path / "cut.eml", _truncate_in_base64(vector.path.read_bytes(), at_line_end))
    result = run_main(["open", path, *key_args(pki, vector.recipient), "--trust", pki.root.cert_pem, "--json"], capsys)
    assert_failed_cleanly(result)


def test_truncated_encrypted_message_saves_nothing(corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vector = corpus_by_name[GOOD]
    path = write(tmp_path / "cut.eml", _truncate_in_base64(vector.path.read_bytes()))
    saved = tmp_path / "saved"
    result = run_main(["open", path, *key_args(pki, "bob"), "--save-attachments", saved], capsys)
    assert_failed_cleanly(result)
    assert not saved.exists() or list(saved.iterdir()) == []


def _pkcs7_mime_message(der: bytes, smime_type: str = "enveloped-data") -> bytes:
    b64 = base64.encodebytes(der).replace(b"\n", b"\r\n")
    return (
        b"From: Dr Alice Sender <alice@example.org>\r\n"
        b"To: Bob Recipient <bob@example.org>\r\n"
        b"Subject: damaged\r\n"
        b"Date: Mon, 01 Jun 2026 12:00:00 +0000\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: application/pkcs7-mime; name=\"smime.p7m\"; smime-type=" + smime_type.encode() + b"\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n" + b64
    )


@pytest.mark.parametrize(
    ("payload", "smime_type"),
    [
        pytest.param(random.Random(3).randbytes(3000), "enveloped-data", id="random-der"),
        pytest.param(b"\x30\x82\x10\x00" + random.Random(4).randbytes(200), "enveloped-data", id="sequence-too-short"),
        pytest.param(b"\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03\xa0\x80" + bytes(64), "enveloped-data", id="indefinite-zeros"),
        pytest.param(b"", "enveloped-data", id="empty-body"),
        pytest.param(random.Random(5).randbytes(3000), "signed-data", id="random-signed-data"),
    ],
)
def test_garbage_der_in_a_pkcs7_mime_wrapper(payload: bytes, smime_type: str, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "garbage.eml", _pkcs7_mime_message(payload, smime_type))
    result = run_main(["open", path, *key_args(pki, "bob"), "--trust", pki.root.cert_pem, "--json"], capsys)
    assert_failed_cleanly(result)


def test_certificate_der_in_a_pkcs7_mime_wrapper(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Well-formed DER that is not a CMS ContentInfo."""
    path = write(tmp_path / "cert.eml", _pkcs7_mime_message(pki["alice"].cert_der.read_bytes()))
    result = run_main(["open", path, *key_args(pki, "bob"), "--json"], capsys)
    assert_failed_cleanly(result)


def test_invalid_base64_in_a_pkcs7_mime_wrapper(corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = corpus_by_name["openssl-enc-rsa-aes256-cbc"].path.read_bytes()
    body = data.index(b"\r\n\r\n") + 4
    middle = body + (len(data) - body) // 2
    path = write(tmp_path / "bad-b64.eml", data[:middle] + b"!!!*** not base64 ***!!!" + data[middle:])
    result = run_main(["open", path, *key_args(pki, "bob"), "--json"], capsys)
    assert_failed_cleanly(result)


# --------------------------------------------------------------------------- output for a person


def test_human_output_for_a_good_message(corpus_by_name: dict[str, Vector], pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    vector = corpus_by_name[GOOD]
    assert expected_exit(vector) == 0, "the test PKI is not valid at the real time any more"
    result = run_main(open_argv(vector, pki), capsys)
    assert result.code == 0, result.err
    assert_no_traceback(result)
    out = result.out
    assert "valid and trusted" in out
    assert "alice@example.org" in out
    assert "aes256-cbc" in out
    assert "Anbei die Röntgenaufnahme".lower() in out.lower()
    for filename, _ in vector.attachments:
        assert filename in out
    assert out.rstrip().endswith("Everything checks out.")
    assert "NOT" not in out and "Warning" not in out


def test_human_output_weak_cipher_is_mentioned(corpus_by_name: dict[str, Vector], pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(open_argv(corpus_by_name["openssl-enc-rsa-3des-cbc"], pki), capsys)
    assert result.code == 0, result.err
    assert "3des-cbc" in result.out and "weak" in result.out.lower()


def test_human_output_not_valid(corpus_by_name: dict[str, Vector], pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(open_argv(corpus_by_name["openssl-sign-rsa-sha1"], pki), capsys)
    assert result.code == 1
    assert "NOT VALID" in result.out
    assert "Everything checks out." not in result.out
    assert "a security check failed" in result.out


def test_human_output_not_trusted(corpus_by_name: dict[str, Vector], pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(open_argv(corpus_by_name["openssl-sign-rsa-sha256"], pki, trust=False), capsys)
    assert result.code == 1
    assert "NOT TRUSTED" in result.out and "NOT VALID" not in result.out
    assert "Everything checks out." not in result.out


def test_human_output_could_not_be_decrypted(corpus_by_name: dict[str, Vector], pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(open_argv(corpus_by_name[GOOD], pki, key="carol"), capsys)
    assert result.code == 1
    assert "COULD NOT BE DECRYPTED" in result.out
    assert "Everything checks out." not in result.out
    result = run_main(open_argv(corpus_by_name[GOOD], pki, key=None), capsys)
    assert result.code == 1
    assert "COULD NOT BE DECRYPTED" in result.out


# --------------------------------------------------------------------------- saving attachments


def test_save_attachments(corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vector = corpus_by_name[GOOD]
    box = tmp_path / "inbox"
    result = run_main([*open_argv(vector, pki), "--save-attachments", box], capsys)
    assert result.code == expected_exit(vector), result.err
    assert_no_traceback(result)
    assert sorted(p.name for p in box.iterdir()) == sorted(name for name, _ in vector.attachments)
    for name, payload in vector.attachments:
        saved = box / name
        assert saved.read_bytes() == payload
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        assert str(saved) in result.out, f"{saved} not printed"
    assert list(workdir.iterdir()) == []


def test_save_attachments_with_json(corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vector = corpus_by_name["nss-nested-signed-then-encrypted"]
    box = tmp_path / "inbox"
    result = run_main([*open_argv(vector, pki), "--save-attachments", box, "--json"], capsys)
    data = parse_json(result)  # still exactly the contract's keys
    assert result.code == expected_exit(vector)
    for a, (name, payload) in zip(data["attachments"], vector.attachments):
        assert (box / a["filename"]).read_bytes() == payload
        assert hashlib.sha256((box / name).read_bytes()).hexdigest() == a["sha256"]


def test_saving_twice_never_overwrites(corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vector = corpus_by_name[GOOD]
    box = tmp_path / "inbox"
    first = run_main([*open_argv(vector, pki), "--save-attachments", box], capsys)
    assert first.code == expected_exit(vector), first.err
    (box / "xray.dcm").write_bytes(b"edited by the user after saving")
    second = run_main([*open_argv(vector, pki), "--save-attachments", box], capsys)
    assert second.code == expected_exit(vector), second.err
    expected = set()
    for name, payload in vector.attachments:
        stem, dot, ext = name.rpartition(".")
        copy = box / f"{stem} (1).{ext}"
        assert copy.read_bytes() == payload
        assert str(copy) in second.out
        expected |= {name, copy.name}
    assert {p.name for p in box.iterdir()} == expected
    assert (box / "xray.dcm").read_bytes() == b"edited by the user after saving"


def test_json_reports_where_each_attachment_was_saved(
    corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """"--save-attachments ... prints the paths": with --json too, where a program can find them.

    The second run saves under "name (1).ext"; the JSON keys are fixed, so the paths can only be
    on stderr (or the JSON filename must be the saved name)."""
    vector = corpus_by_name[GOOD]
    box = tmp_path / "inbox"
    assert run_main([*open_argv(vector, pki), "--save-attachments", box, "--json"], capsys).code == expected_exit(vector)
    result = run_main([*open_argv(vector, pki), "--save-attachments", box, "--json"], capsys)
    data = parse_json(result)
    for a, (name, payload) in zip(data["attachments"], vector.attachments):
        stem, _, ext = name.rpartition(".")
        copy = box / f"{stem} (1).{ext}"
        assert copy.read_bytes() == payload
        reported = str(copy) in result.err or a["filename"] == copy.name
        assert reported, f"{copy} is reported nowhere; JSON says {a['filename']!r}, stderr {result.err!r}"


def test_save_attachments_into_a_file_is_bad_input(
    corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = write(tmp_path / "not-a-folder", b"x")
    result = run_main([*open_argv(corpus_by_name[GOOD], pki), "--save-attachments", blocker / "sub", "--json"], capsys)
    assert_failed_cleanly(result, "folder")


def test_save_attachments_of_a_message_that_cannot_be_decrypted(
    corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box = tmp_path / "inbox"
    result = run_main([*open_argv(corpus_by_name[GOOD], pki, key="carol"), "--save-attachments", box], capsys)
    assert result.code == 1
    assert not box.exists() or list(box.iterdir()) == []


HOSTILE_PARTS: list[tuple[bytes, bytes]] = [
    # (header lines naming the file, content); content is unique per part
    (b'Content-Type: application/x-sh\r\nContent-Disposition: attachment; filename="../../evil.sh"', b"#!/bin/sh\necho pwned\n"),
    (b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=".."', b"dot-dot"),
    (b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="CON"', b"console"),
    (b'Content-Type: text/plain\r\nContent-Disposition: attachment; filename="aux.txt"', b"aux"),
    (b'Content-Type: text/plain\r\nContent-Disposition: attachment; filename="a/b\\\\c.txt"', b"slashes"),
    (b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=""', b"%PDF-1.4 empty name"),
    (b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="' + b"L" * 300 + b'.pdf"', b"%PDF-1.4 long name"),
    (b'Content-Type: text/plain\r\nContent-Disposition: attachment; filename="bell\x07esc\x1b[31mred.txt"', b"control raw"),
    (b"Content-Type: text/plain\r\nContent-Disposition: attachment; filename*=utf-8''ctl%07%1B%5B2J%0D.txt", b"control 2231"),
    (b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-8''..%2F..%2Fx", b"rfc2231 traversal"),
    (b'Content-Type: application/octet-stream; name="/etc/cron.d/evil"', b"name param only"),
    (b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="..\\\\..\\\\win.ini"', b"backslash traversal"),
    (b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=".bashrc"', b"hidden"),
]


def _hostile_message() -> bytes:
    boundary = b"=_hostile_boundary_42"
    parts = [
        b"From: Mallory <mallory@example.net>\r\n"
        b"To: Bob Recipient <bob@example.org>\r\n"
        b"Subject: Your x-rays\r\n"
        b"Date: Mon, 01 Jun 2026 12:00:00 +0000\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n'
        b"--" + boundary + b"\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Please open the attachments.\r\n"
    ]
    for headers, content in HOSTILE_PARTS:
        parts.append(
            b"\r\n--" + boundary + b"\r\n" + headers + b"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(content).replace(b"\n", b"\r\n")
        )
    parts.append(b"\r\n--" + boundary + b"--\r\n")
    return b"".join(parts)


def assert_plain_saved_name(path: Path, box: Path) -> None:
    name = path.name
    assert path.resolve().parent == box.resolve(), path
    assert "/" not in name and "\\" not in name and name not in ("", ".", "..")
    assert not name.startswith("."), name
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in name), repr(name)
    assert len(name.encode("utf-8")) <= 255
    assert name.partition(".")[0].upper() not in DEVICE_NAMES, name


def test_hostile_attachment_names_stay_inside_the_folder(tmp_path: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inbox = tmp_path / "mail"
    inbox.mkdir()
    message = write(inbox / "hostile.eml", _hostile_message())
    box = tmp_path / "deep" / "er" / "saved"
    before = tree(tmp_path.parent)

    result = run_main(["open", message, "--save-attachments", box, "--json"], capsys)
    data = parse_json(result)
    assert result.code == 0, f"an unsigned, unencrypted message: no verdict failed ({result.err})"
    assert data["encrypted"] is False and data["decrypted"] is False and data["signatures"] == []
    assert norm(data["body_text"]) == "Please open the attachments."

    created = tree(tmp_path.parent) - before
    outside = {p for p in created if box.resolve() not in p.resolve().parents and p.resolve() != box.resolve()}
    assert outside <= {box.parent, box.parent.parent}, f"created outside the folder: {outside}"
    saved = sorted(box.iterdir())
    assert len(saved) == len(HOSTILE_PARTS), [p.name for p in saved]
    contents = {p.read_bytes(): p for p in saved}
    assert set(contents) == {content for _, content in HOSTILE_PARTS}
    for path in saved:
        assert_plain_saved_name(path, box)
        assert path.is_file() and not path.is_symlink()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    names = {content: path.name for content, path in contents.items()}
    assert names[b"#!/bin/sh\necho pwned\n"] == "evil.sh"
    assert names[b"console"] == "_CON"
    assert names[b"aux"] == "_aux.txt"
    assert names[b"rfc2231 traversal"] == "x"
    assert names[b"%PDF-1.4 long name"].endswith(".pdf")
    assert names[b"%PDF-1.4 empty name"].endswith(".pdf")
    assert not (tmp_path.parent / "evil.sh").exists() and not (tmp_path / "evil.sh").exists()
    assert list(workdir.iterdir()) == []
    # the JSON names are the names the files were saved under
    assert sorted(a["filename"] for a in data["attachments"]) == sorted(p.name for p in saved)
    for a in data["attachments"]:
        assert hashlib.sha256((box / a["filename"]).read_bytes()).hexdigest() == a["sha256"]


def test_hostile_message_human_output_has_no_terminal_escapes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = write(tmp_path / "hostile.eml", _hostile_message())
    result = run_main(["open", message, "--save-attachments", tmp_path / "saved"], capsys)
    assert result.code == 0, result.err
    assert "\x1b" not in result.out and "\x07" not in result.out and "\r" not in result.out
    assert "Signature: none" in result.out
    assert "Encryption: none" in result.out


def test_escape_sequences_in_headers_are_not_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A sender chooses From/Subject; printing an ESC from them lets a message rewrite the screen."""
    message = write(
        tmp_path / "escape.eml",
        b"From: =?utf-8?q?Dr_Alice_Sender_=1B[2J=1B]0;owned=07?= <mallory@example.net>\r\n"
        b"To: bob@example.org\r\n"
        b"Subject: =?utf-8?q?All_fine=1B[1A=1B[2KEverything_checks_out=2E?=\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Body\x1b[31m red\r\n",
    )
    result = run_main(["open", message], capsys)
    assert result.code == 0, result.err
    assert "\x1b" not in result.out and "\x07" not in result.out, repr(result.out)


# --------------------------------------------------------------------------- real processes


def test_console_script_json(corpus_by_name: dict[str, Vector], pki: Pki, tmp_path: Path) -> None:
    vector = corpus_by_name[GOOD]
    box = tmp_path / "saved"
    result = run_script(*open_argv(vector, pki), "--json", "--save-attachments", box, cwd=tmp_path)
    data = parse_json(result)
    assert result.code == expected_exit(vector), result.err
    assert data["encryption"] == "aes256-cbc"
    assert [(a["filename"], a["sha256"]) for a in data["attachments"]] == [
        (name, hashlib.sha256(payload).hexdigest()) for name, payload in vector.attachments
    ]
    for name, payload in vector.attachments:
        assert (box / name).read_bytes() == payload


def test_console_script_not_a_message(pki: Pki, tmp_path: Path) -> None:
    path = write(tmp_path / "photo.eml", FAKE_JPEG)
    result = run_script("open", path, "--json", cwd=tmp_path)
    assert_failed_cleanly(result, "not an e-mail message")


def test_console_script_help_lists_the_options(tmp_path: Path) -> None:
    result = run_script("open", "--help", cwd=tmp_path)
    assert result.code == 0, result.err
    for option in ("--key", "--passphrase-file", "--trust", "--save-attachments", "--json"):
        assert option in result.out
