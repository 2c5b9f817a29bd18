"""No text from the user becomes a header of its own (issue 9, "Header injection").

The exact attacks of the issue go through the real ``smimehelper`` process (a shell's $'...'
strings arrive as these bytes): CR/LF in --subject gave a Bcc header, ``\\r\\n\\r\\n`` ended the
header block, a display name with a line break crashed with exit 3. Now each is refused with
exit 2 before anything is written. What is accepted is checked by two judges: Python's own
e-mail parser (the header fields are exactly the ones written, names and subject decode to what
was typed) and ``openssl cms -decrypt`` / ``-verify`` (the message still decrypts and verifies).
The same attacks with ``--send`` against a real SMTP server, and ``send`` of tampered .eml
files: tests/transport/test_header_injection_send.py.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from tests.cli.compose_helpers import Compose, compose, frozen_clock, leftover_temp_files, run_main, run_script  # noqa: F401 (fixtures)
from tests.judges import openssl_decrypt, openssl_verify
from tests.pki.make_pki import REFERENCE_NOW, Pki

SUBJECT_ATTACKS = {
    "crlf-bcc": "Hi\r\nBcc: x@evil.org",
    "crlf-cc": "Hi\r\nCc: x@evil.org",
    "end-of-headers": "Hi\r\n\r\nThis text would become the body",
    "lf-bcc": "Hi\nBcc: x@evil.org",
    "cr-bcc": "Hi\rBcc: x@evil.org",
    "nul": "Hi\x00there",
    "nel": "Hi\x85Bcc: x@evil.org",
    "line-separator": "Hi\u2028Bcc: x@evil.org",
    "paragraph-separator": "Hi\u2029Bcc: x@evil.org",
    "escape": "Hi\x1b[2J",
    "tab": "Hi\tthere",
}

NAME_ATTACKS = {
    "from-quoted-lf": ("--from", '"Al\nice" <alice@example.org>'),  # exit 3 (ValueError) before
    "from-crlf": ("--from", "Alice\r\nBcc: x@evil.org <alice@example.org>"),
    "to-crlf-cc": ("--to", '"Bob\r\nCc: x@evil.org" <bob@example.org>'),
    "to-lf": ("--to", "Bob\n <bob@example.org>"),
    "cc-crlf": ("--cc", "Carol\r\n\r\n <carol@example.org>"),
    "bcc-nul": ("--bcc", "Carol\x00 <carol@example.org>"),
    "to-u2028": ("--to", "Bob\u2028Bcc: x@evil.org <bob@example.org>"),
    "to-encoded-word": ("--to", "=?utf-8?q?x=0D=0ABcc:_x@evil.org?= <bob@example.org>"),
}


def _real_cli(compose: Compose, argv: list[str]) -> tuple[int, str, str]:
    """The real process; in-process only for a NUL, which no program can receive in argv."""
    if any("\x00" in a for a in argv):
        result = run_main(argv, compose.capsys)
    else:
        result = run_script(*argv, cwd=compose.tmp)
    return result.code, result.out, result.err


@pytest.mark.parametrize("attack", sorted(SUBJECT_ATTACKS))
def test_control_characters_in_the_subject_are_refused_by_the_real_cli(compose: Compose, attack: str) -> None:
    code, out, err = _real_cli(compose, compose.argv(subject=SUBJECT_ATTACKS[attack]))
    assert code == 2, f"exit {code}: {out} {err}"
    assert "The subject contains" in err and "one line" in err and "Traceback" not in err
    assert not compose.output.exists() and leftover_temp_files(compose.outdir) == []


@pytest.mark.parametrize("attack", sorted(NAME_ATTACKS))
def test_line_breaks_in_names_are_a_clear_error(compose: Compose, attack: str) -> None:
    option, value = NAME_ATTACKS[attack]
    extra = [option, value]
    overrides: dict[str, object] = {}
    if option == "--from":
        overrides["sender"] = None
    if option == "--to":
        overrides["to"] = ()
    if option in ("--cc", "--bcc"):
        overrides["certs"] = ("bob", "carol")
    code, out, err = _real_cli(compose, compose.argv(*extra, **overrides))  # type: ignore[arg-type]
    assert code == 2, f"exit {code}: {out} {err}"
    assert "Traceback" not in err and "Something went wrong" not in err
    assert ("line break" in err or "control character" in err or "NUL" in err or "separator" in err or '"=?"' in err), err
    assert not compose.output.exists() and leftover_temp_files(compose.outdir) == []


def _outer(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[return-value]


def test_what_is_accepted_is_encoded_and_parses_back_exactly(compose: Compose, pki: Pki) -> None:
    subject = "Röntgen Zahn 36 – Befund =?utf-8?q?not_an_encoded_word?= " + "lang " * 20
    compose.ok(
        "--cc", '"Müller, Hans (Zahnarzt)" <carol@example.org>',
        sender='"Dr. Alice Sender, DDS" <alice@example.org>', to=("Bob Ünal <bob@example.org>",),
        subject=subject, certs=("bob", "carol"),
    )
    raw = compose.output.read_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(32 <= b < 127 or b == 9 for b in head.replace(b"\r\n", b"")), "raw 8-bit or control bytes in the headers"
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    msg = _outer(compose.output)
    assert [k.lower() for k in msg.keys()] == [
        "from", "to", "cc", "subject", "date", "message-id", "mime-version", "content-type",
        "content-transfer-encoding", "content-disposition", "content-description",
    ]
    assert msg["Subject"] == subject
    assert msg["From"].addresses[0].display_name == "Dr. Alice Sender, DDS"
    assert [a.addr_spec for a in msg["To"].addresses] == ["bob@example.org"]
    assert msg["To"].addresses[0].display_name == "Bob Ünal"
    assert [(a.display_name, a.addr_spec) for a in msg["Cc"].addresses] == [("Müller, Hans (Zahnarzt)", "carol@example.org")]
    bob = pki["bob"]
    openssl_verify(openssl_decrypt(compose.output, bob.cert_pem, bob.key_path), pki.root.cert_pem, attime=REFERENCE_NOW)


def test_attachment_names_with_line_breaks_never_reach_a_header(compose: Compose, pki: Pki) -> None:
    names = ["scan\r\nBcc: x@evil.org.pdf", "x-ray\nContent-Type: text_html.jpg", "befund\u2028\u202etxt.exe.pdf",
             "a" * 90 + "\r\n.dcm"]
    attached = []
    for index, name in enumerate(names):
        path = compose.tmp / name
        path.write_bytes(b"%%PDF-1.4 attachment %d\n" % index)
        attached += ["--attach", str(path)]
    compose.ok(*attached)
    bob = pki["bob"]
    content = openssl_verify(openssl_decrypt(compose.output, bob.cert_pem, bob.key_path), pki.root.cert_pem, attime=REFERENCE_NOW)
    inner = email.message_from_bytes(content, policy=email.policy.default)
    parts = list(inner.iter_attachments())
    assert len(parts) == len(names)
    for part in parts:
        assert set(k.lower() for k in part.keys()) == {"content-type", "content-transfer-encoding", "content-disposition"}
        filename = part.get_filename()
        assert filename and not any(c in filename for c in "\r\n\u2028\u202e")
    headers_only = b"\n".join(
        line for line in content.split(b"\r\n") if line[:1] not in (b" ", b"\t") and b":" in line[:40]
    ).lower()
    assert b"\nbcc:" not in b"\n" + headers_only and b"content-type: text_html" not in headers_only
