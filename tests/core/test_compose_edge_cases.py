"""Edge cases of real practice mail, each decrypted and verified by OpenSSL and parsed back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.core.helpers import attachments_of, compose, parse, signed_content_parts, text_of
from tests.judges import openssl_decrypt, openssl_verify
from tests.pki.make_pki import Pki


def open_as_bob(pki: Pki, eml: Path) -> bytes:
    bob = pki.entity("bob")
    inner = openssl_decrypt(eml, bob.cert_pem, bob.key_path)
    openssl_verify(inner, pki.root.cert_pem, attime=pki.now)
    return inner


@pytest.mark.parametrize(
    "name",
    [
        "Röntgen Zahn 36 – Müller.dcm",
        "パノラマ写真.jpg",
        "Überweisung_" + "ä" * 80 + ".pdf",
        'quote"and spaces.txt',
    ],
)
def test_non_ascii_and_awkward_file_names_survive(pki: Pki, tmp_path: Path, name: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    source = folder / name
    source.write_bytes(os.urandom(1000))
    out = tmp_path / "msg.eml"
    compose(pki, out, attachments=(source,))
    inner = open_as_bob(pki, out)
    content = signed_content_parts(inner)
    (part,) = list(content.iter_attachments())
    assert part.get_filename() == name  # RFC 2231 filename*
    assert part.get_param("name") == name  # RFC 2047 name= (what Outlook shows)
    assert part.get_payload(decode=True) == source.read_bytes()
    assert max(len(line) for line in inner.split(b"\r\n")) <= 78


def test_empty_attachment(pki: Pki, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    also = tmp_path / "after.bin"
    also.write_bytes(b"x" * 57)
    out = tmp_path / "msg.eml"
    compose(pki, out, attachments=(empty, also))
    got = attachments_of(signed_content_parts(open_as_bob(pki, out)))
    assert got["empty.txt"][1] == b""
    assert got["after.bin"][1] == b"x" * 57


def test_twenty_attachments_of_varied_sizes(pki: Pki, tmp_path: Path) -> None:
    paths = []
    for index in range(20):
        path = tmp_path / f"image{index:02d}.bin"
        path.write_bytes(os.urandom(index * 997 + index % 3))
        paths.append(path)
    out = tmp_path / "msg.eml"
    compose(pki, out, attachments=tuple(paths))
    got = attachments_of(signed_content_parts(open_as_bob(pki, out)))
    assert [name for name in got] == [p.name for p in paths]
    assert all(got[p.name][1] == p.read_bytes() for p in paths)


TRICKY_BODY = (
    "From the lab: results attached.\n"
    "line with trailing spaces   \n"
    "line with trailing tab\t\n"
    ".\n"
    "..leading dots\n"
    "--not-a-boundary\n"
    "= sign and =3D literal\n"
    "Umlaute äöü ß, emoji 🦷, Ω\n"
    + "x" * 200
    + "\n\n"
    "last line without newline"
)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_body_text_is_preserved_exactly(pki: Pki, tmp_path: Path, newline: str) -> None:
    out = tmp_path / "msg.eml"
    compose(pki, out, body=TRICKY_BODY.replace("\n", newline), attachments=())
    inner = open_as_bob(pki, out)
    assert text_of(signed_content_parts(inner)) == TRICKY_BODY
    # nothing a mail server would rewrite: no line starts with "From " and none ends in a space
    for line in inner.split(b"\r\n"):
        assert not line.startswith(b"From ")
        assert not line.endswith((b" ", b"\t"))
        assert len(line) <= 78


def test_long_subject_is_folded_and_survives(pki: Pki, tmp_path: Path) -> None:
    subject = ("Befund " * 300)[:2048]
    out = tmp_path / "msg.eml"
    compose(pki, out, subject=subject)
    raw = out.read_bytes()
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in headers.split(b"\r\n")) <= 78
    assert parse(raw)["Subject"] == subject.strip()
    open_as_bob(pki, out)


def test_long_unbroken_non_ascii_subject(pki: Pki, tmp_path: Path) -> None:
    subject = "Ü" * 2048
    out = tmp_path / "msg.eml"
    compose(pki, out, subject=subject)
    raw = out.read_bytes()
    assert max(len(line) for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")) <= 78
    assert parse(raw)["Subject"] == subject


def test_display_names_with_non_ascii_and_duplicates(pki: Pki, tmp_path: Path) -> None:
    """A recipient named twice (To and Cc) gets one RecipientInfo; names are encoded words."""
    out = tmp_path / "msg.eml"
    result = compose(pki, out, to=("bob",), cc=("bob", "carol"))
    assert result.recipients == ("alice@example.org", "bob@example.org", "carol@example.org")
    open_as_bob(pki, out)


def test_backslash_in_a_file_name_is_not_announced_as_a_folder(pki: Pki, tmp_path: Path) -> None:
    source = tmp_path / "scan\\2026.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(100))
    out = tmp_path / "msg.eml"
    compose(pki, out, attachments=(source,))
    got = attachments_of(signed_content_parts(open_as_bob(pki, out)))
    assert got == {"scan_2026.png": ("image/png", source.read_bytes())}
