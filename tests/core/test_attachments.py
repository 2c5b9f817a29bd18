"""Saving received attachments: ``safe_filename`` cleans a sender-chosen name into one plain file
name, ``save_unique`` writes it privately and atomically without ever replacing a file."""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from smimehelper.core.attachments import MAX_NAME_BYTES, safe_filename, save_unique
from smimehelper.core.errors import InputFileError

DEVICE_NAMES = ["CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))]


def assert_plain_name(name: str) -> None:
    """One file name in the target folder, on Linux, macOS and Windows."""
    assert name, "empty name"
    assert name not in (".", "..")
    assert "/" not in name and "\\" not in name
    assert not name.startswith("."), f"hidden or relative name: {name!r}"
    assert not any(unicodedata.category(c) == "Cc" for c in name), f"control character in {name!r}"
    assert not any(c in name for c in '<>:"|?*'), f"character Windows refuses in {name!r}"
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    stem = name.partition(".")[0]
    assert stem.upper() not in DEVICE_NAMES, f"Windows device name {name!r}"
    assert not name.endswith((".", " ")), f"Windows drops a trailing dot or space: {name!r}"


# --------------------------------------------------------------------------- safe_filename


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("xray.dcm", "xray.dcm"),
        ("Röntgen Thorax.dcm", "Röntgen Thorax.dcm"),
        ("scan 2024-01-02.png", "scan 2024-01-02.png"),
        ("../../evil.sh", "evil.sh"),
        ("/etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\evil.dll", "evil.dll"),
        ("a/b\\c.txt", "c.txt"),
        ("C:\\Users\\x\\report.pdf", "report.pdf"),
        ("C:report.pdf", "C_report.pdf"),
        (".bashrc", "bashrc"),
        ("...hidden", "hidden"),
        ("  spaced.txt  ", "spaced.txt"),
        ("bell\x07name.txt", "bell_name.txt"),
        ("esc\x1b[31mred.txt", "esc_[31mred.txt"),
        ("nul\x00byte.txt", "nul_byte.txt"),
        ("del\x7f.txt", "del_.txt"),
        ('what?<>|*".txt', "what______.txt"),
    ],
)
def test_safe_filename_examples(given: str, expected: str) -> None:
    assert safe_filename(given, "application/octet-stream", 1) == expected
    assert_plain_name(safe_filename(given, "application/octet-stream", 1))


@pytest.mark.parametrize("device", DEVICE_NAMES)
@pytest.mark.parametrize("form", ["{}", "{}.txt", "{}.tar.gz", "lower"])
def test_safe_filename_prefixes_windows_device_names(device: str, form: str) -> None:
    given = device.lower() + ".txt" if form == "lower" else form.format(device)
    name = safe_filename(given, "text/plain", 1)
    assert name == f"_{given}"
    assert_plain_name(name)


@pytest.mark.parametrize("given", ["CONFIG.SYS", "console.log", "COM10.txt", "LPT0", "auxiliary.txt", "nullable.txt"])
def test_safe_filename_keeps_names_that_only_look_like_devices(given: str) -> None:
    assert safe_filename(given, "text/plain", 1) == given


@pytest.mark.parametrize("given", [None, "", "   ", ".", "..", "...", "/", "\\", "a/..", "foo\\..", ". .", "../"])
def test_safe_filename_invents_a_name_when_nothing_usable_remains(given: str | None) -> None:
    assert safe_filename(given, "application/pdf", 3) == "attachment-3.pdf"
    assert safe_filename(given, "application/x-unknown-kind", 7) == "attachment-7.bin"
    assert_plain_name(safe_filename(given, "image/png", 2))


def test_safe_filename_normalises_unicode_to_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Röntgen.dcm")
    assert decomposed != "Röntgen.dcm"
    assert safe_filename(decomposed, "application/dicom", 1) == "Röntgen.dcm"


def test_safe_filename_shortens_long_names_and_keeps_the_extension() -> None:
    name = safe_filename("A" * 300 + ".pdf", "application/pdf", 1)
    assert name.endswith(".pdf") and name.startswith("AAAA")
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert_plain_name(name)


def test_safe_filename_shortens_multibyte_names_on_character_boundaries() -> None:
    name = safe_filename("Ä" * 300 + ".dcm", "application/dicom", 1)
    assert name.endswith(".dcm")
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert set(name.removesuffix(".dcm")) == {"Ä"}
    emoji = safe_filename("🦷" * 120, "image/png", 1)  # 4 bytes each, no extension
    assert len(emoji.encode("utf-8")) <= MAX_NAME_BYTES and set(emoji) == {"🦷"}


def test_safe_filename_shortens_a_name_whose_extension_alone_is_too_long() -> None:
    name = safe_filename("a." + "b" * 400, "application/octet-stream", 1)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert_plain_name(name)


@pytest.mark.parametrize(
    "given",
    [
        "report.pdf.",
        "report.pdf . .",
        "report.pdf. . .",
        "x" * 250 + " .txt",
    ],
)
def test_safe_filename_never_ends_in_a_dot_or_space(given: str) -> None:
    """Windows silently drops trailing dots and spaces, so "a.pdf." would be written as "a.pdf"."""
    assert_plain_name(safe_filename(given, "application/pdf", 1))


@pytest.mark.parametrize(
    "given",
    [
        "c1\x9b31mcsi.txt",  # U+009B, the one-character CSI: a terminal escape in some terminals
        "next\x85line.txt",  # U+0085 NEXT LINE
    ],
)
def test_safe_filename_removes_c1_control_characters(given: str) -> None:
    """The module promises to clean control characters; C1 controls (U+0080..U+009F) are ones too."""
    assert_plain_name(safe_filename(given, "text/plain", 1))


@pytest.mark.parametrize(
    "given",
    [
        "../../evil.sh", "..", "CON", "aux.txt", "a/b\\c.txt", "", "x" * 300, "ctl\x01\x1f\x7f.txt",
        "..%2F..%2Fx", "🦷" * 70 + ".png", "  ..  ", "COM1 ", "\u00a0", "nul.", "con..txt",
    ],
)
def test_safe_filename_always_gives_a_plain_name(given: str) -> None:
    assert_plain_name(safe_filename(given, "application/octet-stream", 4))


# --------------------------------------------------------------------------- save_unique


def test_save_unique_writes_privately_and_exactly(tmp_path: Path) -> None:
    path = save_unique(tmp_path, "xray.dcm", [b"DICM", b"", b"\x00\xff" * 1000])
    assert path == tmp_path / "xray.dcm"
    assert path.read_bytes() == b"DICM" + b"\x00\xff" * 1000
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xray.dcm"]


def test_save_unique_empty_file(tmp_path: Path) -> None:
    path = save_unique(tmp_path, "empty.txt", iter(()))
    assert path.read_bytes() == b""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_unique_is_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = save_unique(tmp_path, "scan.png", [b"png"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_unique_never_overwrites_and_numbers_the_copies(tmp_path: Path) -> None:
    first = save_unique(tmp_path, "scan.png", [b"one"])
    second = save_unique(tmp_path, "scan.png", [b"two"])
    third = save_unique(tmp_path, "scan.png", [b"three"])
    assert [first.name, second.name, third.name] == ["scan.png", "scan (1).png", "scan (2).png"]
    assert [p.read_bytes() for p in (first, second, third)] == [b"one", b"two", b"three"]


def test_save_unique_numbers_names_without_extension(tmp_path: Path) -> None:
    save_unique(tmp_path, "README", [b"a"])
    assert save_unique(tmp_path, "README", [b"b"]).name == "README (1)"


def test_save_unique_fills_a_gap_but_keeps_existing_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"mine")
    (tmp_path / "a (1).txt").write_bytes(b"mine too")
    (tmp_path / "a (2).txt").mkdir()
    path = save_unique(tmp_path, "a.txt", [b"new"])
    assert path.name == "a (3).txt" and path.read_bytes() == b"new"
    assert (tmp_path / "a.txt").read_bytes() == b"mine"
    assert (tmp_path / "a (1).txt").read_bytes() == b"mine too"


def test_save_unique_does_not_follow_a_symlink_with_the_same_name(tmp_path: Path) -> None:
    target = tmp_path / "outside.txt"
    target.write_bytes(b"precious")
    box = tmp_path / "box"
    box.mkdir()
    (box / "x.txt").symlink_to(target)
    (box / "dangling.txt").symlink_to(tmp_path / "does-not-exist.txt")
    assert save_unique(box, "x.txt", [b"attack"]).name == "x (1).txt"
    assert save_unique(box, "dangling.txt", [b"attack"]).name == "dangling (1).txt"
    assert target.read_bytes() == b"precious"
    assert not (tmp_path / "does-not-exist.txt").exists()


def test_save_unique_creates_the_folder(tmp_path: Path) -> None:
    path = save_unique(tmp_path / "new" / "folder", "f.bin", [b"x"])
    assert path == tmp_path / "new" / "folder" / "f.bin" and path.read_bytes() == b"x"


def test_save_unique_folder_blocked_by_a_file_is_a_plain_error(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"a file, not a folder")
    with pytest.raises(InputFileError, match="Cannot create the folder"):
        save_unique(blocker / "sub", "f.bin", [b"x"])


class Boom(RuntimeError):
    pass


def failing_after_first_chunk() -> Iterator[bytes]:
    yield b"first chunk " * 1000
    raise Boom("the message is damaged")


def test_save_unique_failure_mid_write_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(Boom):
        save_unique(tmp_path, "xray.dcm", failing_after_first_chunk())
    assert list(tmp_path.iterdir()) == [], "a partial, reserved or temporary file was left behind"


def test_save_unique_failure_mid_write_keeps_the_existing_file(tmp_path: Path) -> None:
    (tmp_path / "xray.dcm").write_bytes(b"earlier study")
    with pytest.raises(Boom):
        save_unique(tmp_path, "xray.dcm", failing_after_first_chunk())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xray.dcm"]
    assert (tmp_path / "xray.dcm").read_bytes() == b"earlier study"
    # and the name is free again for the next, successful try
    assert save_unique(tmp_path, "xray.dcm", [b"ok"]).name == "xray (1).dcm"


def test_save_unique_interrupted_mid_write_leaves_no_file(tmp_path: Path) -> None:
    def interrupted() -> Iterator[bytes]:
        yield b"some"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_unique(tmp_path, "big.dcm", interrupted())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_save_unique_read_only_folder_is_a_plain_error(tmp_path: Path) -> None:
    box = tmp_path / "ro"
    box.mkdir()
    box.chmod(0o500)
    try:
        with pytest.raises(InputFileError, match="Cannot save"):
            save_unique(box, "f.bin", [b"x"])
    finally:
        box.chmod(0o700)
