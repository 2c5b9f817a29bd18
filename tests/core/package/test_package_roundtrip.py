"""The writer and the Python reader (``smimehelper open package.html``) agree, and every kind of
damage is refused with nothing saved."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

import pytest

from smimehelper.core.errors import ComposeError, InputFileError, MessageFormatError, PassphraseError
from smimehelper.core.package import format as fmt
from smimehelper.core.package.reader import PackageDamaged, WrongPackagePassphrase, is_package, open_package
from tests.core.package.helpers import (
    PASSPHRASE,
    chunk_spans,
    flip_byte,
    flipped_in_chunk,
    make_files,
    make_package,
    removed_chunk,
    swapped_chunks,
    truncated_after_chunk,
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_files(tmp_path_factory.mktemp("files"))


@pytest.fixture(scope="module")
def package(files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package") / "package.html"
    make_package(out, files)
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_saves_every_file_byte_identical(files: list[Path], package: Path, tmp_path: Path) -> None:
    opened = open_package(package, PASSPHRASE, tmp_path / "out")
    assert opened.sender == "Dr Alice Example <alice@example.org>"
    assert opened.subject == "Referral: x-rays"
    assert opened.message.startswith("Dear colleague,")
    assert opened.created == "2026-06-01T12:00:00Z"
    assert [f.name for f in opened.files] == [p.name for p in files]
    for original, got in zip(files, opened.files):
        assert got.sha256 == _sha(original)
        assert got.saved_to is not None and _sha(got.saved_to) == _sha(original)
        assert stat.S_IMODE(got.saved_to.stat().st_mode) == 0o600
    assert {f.content_type for f in opened.files} >= {"application/dicom", "image/png", "application/octet-stream"}
    assert not list((tmp_path / "out").glob(".*")), "no temporary file is left behind"


def test_passphrase_case_and_spaces_do_not_matter(package: Path) -> None:
    opened = open_package(package, "  " + PASSPHRASE.upper().replace(" ", " \t ") + "\n")
    assert opened.files and all(f.saved_to is None for f in opened.files)


def test_saving_twice_never_replaces_a_file(package: Path, tmp_path: Path) -> None:
    first = open_package(package, PASSPHRASE, tmp_path)
    second = open_package(package, PASSPHRASE, tmp_path)
    assert first.files[0].saved_to != second.files[0].saved_to
    assert second.files[0].saved_to is not None and second.files[0].saved_to.name == "scan (1).bin"


def test_page_is_marked_and_has_the_contract_elements(package: Path) -> None:
    assert is_package(package)
    text = package.read_text("utf-8")
    for needle in ('id="passphrase"', 'id="open"', 'id="message"', 'id="error"', "default-src 'none'"):
        assert needle in text
    header = re.search(r'id="sh-header">\n(.*?)</script>', text, re.S)
    assert header is not None
    assert len(chunk_spans(package.read_bytes())) == fmt.Header.decode(__import__("base64").b64decode(header.group(1))).chunks


def test_csp_hashes_match_the_inline_script_and_style(package: Path) -> None:
    import base64

    text = package.read_text("utf-8")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)  # type: ignore[union-attr]
    scripts = re.findall(r"<script>(.*?)</script>", text, re.S)
    styles = re.findall(r"<style>(.*?)</style>", text, re.S)
    assert len(scripts) == 1 and len(styles) == 1
    for body, directive in ((scripts[0], "script-src"), (styles[0], "style-src")):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp
    assert csp.startswith("default-src 'none';")


def test_wrong_passphrase_is_told_apart_from_damage(package: Path, tmp_path: Path) -> None:
    with pytest.raises(WrongPackagePassphrase):
        open_package(package, "abacus trident safeness uneasy acre", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: flipped_in_chunk(d, 0), id="flipped-byte-manifest"),
        pytest.param(lambda d: flipped_in_chunk(d, 2), id="flipped-byte-file"),
        pytest.param(lambda d: flipped_in_chunk(d, -1), id="flipped-byte-last"),
        pytest.param(lambda d: removed_chunk(d, 1), id="removed-chunk"),
        pytest.param(lambda d: removed_chunk(d, -1), id="removed-last-chunk"),
        pytest.param(lambda d: swapped_chunks(d, 1, 2), id="swapped-chunks"),
        pytest.param(lambda d: truncated_after_chunk(d, 1), id="truncated"),
        pytest.param(lambda d: d[: len(d) // 2], id="cut-in-half"),
        pytest.param(lambda d: flip_byte(d, d.index(b'id="sh-header">\n') + 40), id="flipped-byte-header"),
        pytest.param(lambda d: flip_byte(d, d.index(b'id="sh-check">\n') + 20), id="flipped-byte-check"),
        pytest.param(lambda d: d.replace(b"</script>\n<script type=\"application/vnd.smimehelper.chunk\">\n", b"</script>\n<script type=\"application/vnd.smimehelper.chunk\">\n!", 1), id="invalid-base64"),
    ],
)
def test_damage_is_detected_and_nothing_is_saved(package: Path, tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken.html"
    broken.write_bytes(damage(package.read_bytes()))
    out = tmp_path / "out"
    with pytest.raises(PackageDamaged, match="damaged; ask the sender"):
        open_package(broken, PASSPHRASE, out)
    assert not out.exists() or list(out.iterdir()) == []


def test_duplicated_chunk_is_damage(package: Path, tmp_path: Path) -> None:
    data = package.read_bytes()
    start, end = chunk_spans(data)[1]
    broken = tmp_path / "dup.html"
    broken.write_bytes(data[:end] + data[start:end] + data[end:])
    with pytest.raises(PackageDamaged):
        open_package(broken, PASSPHRASE)


def test_chunks_of_another_package_do_not_fit(files: list[Path], package: Path, tmp_path: Path) -> None:
    """Same passphrase, same files: a chunk from a second package (other salt) is damage."""
    other = make_package(tmp_path / "other.html", files).path.read_bytes()
    data = package.read_bytes()
    s, e = chunk_spans(data)[2]
    os_, oe = chunk_spans(other)[2]
    broken = tmp_path / "mixed.html"
    broken.write_bytes(data[:s] + other[os_:oe] + data[e:])
    with pytest.raises(PackageDamaged):
        open_package(broken, PASSPHRASE)


def test_an_eml_or_random_html_is_not_a_package(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<!DOCTYPE html><html><body>hello</body></html>")
    assert not is_package(page)
    with pytest.raises(MessageFormatError):
        open_package(page, PASSPHRASE)
    with pytest.raises(InputFileError):
        open_package(tmp_path, PASSPHRASE)
    with pytest.raises(InputFileError):
        open_package(tmp_path / "missing.html", PASSPHRASE)
    assert not is_package(Path("/dev/null"))


def test_header_iteration_bounds_are_enforced() -> None:
    header = fmt.Header(iterations=600_000, salt=b"s" * 16, nonce_prefix=b"p" * 7, chunks=1)
    raw = header.encode()
    assert fmt.Header.decode(raw) == header
    for bad in (raw.replace(b"600000", b"1000"), raw.replace(b"600000", b"99999999"), raw.replace(b'"version":1', b'"version":2'), raw + b" "):
        with pytest.raises(fmt.FormatError):
            fmt.Header.decode(bad)


def test_normalization_is_exactly_the_documented_one() -> None:
    assert fmt.normalize_passphrase("  Abacus\u00a0\u3000ACORN\t\n") == b"abacus acorn"
    assert fmt.normalize_passphrase("Stra\u00dfe \u00c4rztin") == "stra\u00dfe \u00e4rztin".encode()
    assert fmt.normalize_passphrase("A\u0308") == "\u00e4".encode()  # NFC
    assert fmt.normalize_passphrase("a\x1cb") == "a\x1cb".encode()  # Python whitespace, not the page's


def test_weak_chosen_passphrase_is_refused(files: list[Path], tmp_path: Path) -> None:
    with pytest.raises(PassphraseError, match="too easy to guess"):
        make_package(tmp_path / "weak.html", files[:1], passphrase="password123", check_strength=True)
    assert list(tmp_path.iterdir()) == []


def test_output_problems_are_plain_errors(files: list[Path], tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="folder does not exist"):
        make_package(tmp_path / "missing" / "p.html", files[:1])
    with pytest.raises(ComposeError):
        make_package(tmp_path, files[:1])
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o500)
    try:
        if os.geteuid() != 0:
            with pytest.raises(ComposeError, match="permission denied"):
                make_package(readonly / "p.html", files[:1])
    finally:
        readonly.chmod(0o700)


def test_full_disk_leaves_nothing(files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from smimehelper.core.package import writer

    real = writer._Sealer.seal
    calls = {"n": 0}

    def seal(self, plaintext):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, plaintext)

    monkeypatch.setattr(writer._Sealer, "seal", seal)
    with pytest.raises(ComposeError, match="No space left"):
        make_package(tmp_path / "p.html", files)
    assert list(tmp_path.iterdir()) == []


def test_file_that_grows_or_shrinks_while_packed_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from smimehelper.core.mime.writer import prepare_attachment
    from smimehelper.core.package.writer import PackageRequest, write_package
    from tests.core.package.helpers import CREATED

    source = tmp_path / "growing.bin"
    source.write_bytes(b"x" * 3_000_000)
    attachment = prepare_attachment(source)
    for change in (lambda: source.write_bytes(b"x" * 3_500_000), lambda: source.write_bytes(b"x" * 1_000)):
        change()
        with pytest.raises(InputFileError, match="changed while it was being packed"):
            write_package(PackageRequest("a@example.org", "", "", (attachment,), PASSPHRASE, CREATED, check_strength=False), tmp_path / "p.html")
        assert not (tmp_path / "p.html").exists()
        assert [p.name for p in tmp_path.iterdir()] == ["growing.bin"]


def test_cancel_leaves_nothing(files: list[Path], tmp_path: Path) -> None:
    from smimehelper.core.mime.writer import prepare_attachment
    from smimehelper.core.package.writer import PackageCancelled, PackageRequest, write_package
    from tests.core.package.helpers import CREATED

    request = PackageRequest("a@example.org", "", "", tuple(prepare_attachment(p) for p in files), PASSPHRASE, CREATED, check_strength=False)
    with pytest.raises(PackageCancelled):
        write_package(request, tmp_path / "p.html", cancelled=lambda: True)
    assert list(tmp_path.iterdir()) == []


def test_attachment_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    from smimehelper.core.mime.writer import prepare_attachment

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for bad in (tmp_path, Path("/dev/zero"), fifo):
        with pytest.raises(InputFileError):
            prepare_attachment(bad)


def test_control_characters_in_texts_survive_as_data(files: list[Path], tmp_path: Path) -> None:
    nasty = "line1\r\nline2\x00\x1b[2J</script><script>alert(1)</script>\u202e"
    out = make_package(tmp_path / "p.html", files[1:2], message=nasty, subject=nasty).path
    opened = open_package(out, PASSPHRASE)
    assert opened.message == nasty and opened.subject == nasty
    assert b"alert(1)" not in out.read_bytes()


def test_hostile_file_names_in_a_package_are_saved_inside_the_folder(tmp_path: Path) -> None:
    """A package made by someone else (who knows the passphrase) may name a file "../../x"."""
    from smimehelper.core.mime.writer import Attachment
    from smimehelper.core.package.writer import PackageRequest, write_package
    from tests.core.package.helpers import CREATED

    source = tmp_path / "payload"
    source.write_bytes(b"#!/bin/sh\necho owned\n")
    names = ["../../evil.sh", "/etc/passwd", "CON", "a\x1b[2Jb\u202etxt.exe", ""]
    attachments = tuple(Attachment(source, n, "application/octet-stream", source.stat().st_size) for n in names)
    out = write_package(PackageRequest("a@example.org", "", "", attachments, PASSPHRASE, CREATED, check_strength=False), tmp_path / "p.html").path
    folder = tmp_path / "saved"
    opened = open_package(out, PASSPHRASE, folder)
    assert [f.name for f in opened.files] == names  # shown as sent
    for f in opened.files:
        assert f.saved_to is not None and f.saved_to.parent == folder
        assert "/" not in f.saved_to.name and "\x1b" not in f.saved_to.name and "\u202e" not in f.saved_to.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.html", "payload", "saved"]
