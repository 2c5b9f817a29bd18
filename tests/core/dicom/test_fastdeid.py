"""The byte-level engine (core/dicom/fastdeid.py) against the pydicom engine, file by file.

Judges: pydicom parses both copies and they must hold the same elements with the same values
(File Meta, nested items, pixel data); DCMTK's dcmdump -E reads every copy; the byte scan finds
no original value. Every kind of file the byte-level engine must not handle goes to pydicom.
"""

from __future__ import annotations

import errno
import os
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file, get_testdata_files

from smimehelper.core.dicom import fastdeid, pixelcopy
from smimehelper.core.dicom.annex_e import DeidOptions
from smimehelper.core.dicom.deidentify import DeidSession, deidentify_file
from smimehelper.core.dicom.fastdeid import Unsupported, deidentify_fast
from smimehelper.core.errors import UserError
from tests.console import console_script
from tests.core.dicom.equivalence import contents, differences
from tests.core.dicom.synthetic import LEAK_STRINGS, UID_ROOT, dental_pixels, image_dataset, write_file, write_intra_oral, write_study

OPTIONS = {
    "basic": DeidOptions(),
    "all-but-private": DeidOptions(shift_dates=True, clean_descriptors=True, keep_patient_characteristics=True,
                                   keep_device_identity=True),
    "dates-and-private": DeidOptions(keep_dates=True, keep_safe_private=True),
}


def dcmdump_ok(path: Path) -> bool:
    proc = subprocess.run(["dcmdump", "-E", str(path)], capture_output=True, text=True, errors="replace")
    return proc.returncode == 0 and "E:" not in proc.stderr


def leaks(path: Path, allowed: tuple[str, ...] = ()) -> list[str]:
    data = path.read_bytes()
    return [s for s in LEAK_STRINGS if s not in allowed and s.encode() in data]


def part10_samples() -> list[Path]:
    found = []
    for name in get_testdata_files():
        path = Path(name)
        if path.is_file():
            with open(path, "rb") as handle:
                if handle.read(132)[128:] == b"DICM":
                    found.append(path)
    return sorted(found)


def both_engines(source: Path, folder: Path, session: DeidSession) -> tuple[Path, Path]:
    """(byte-level copy, pydicom copy) of ``source``, the same session; counts must agree."""
    fast = deidentify_fast(source, folder / "fast.dcm", session)
    reference = deidentify_file(source, folder / "pydicom.dcm", session, engine="pydicom")
    assert (fast.removed, fast.emptied, fast.replaced, fast.cleaned) == (
        reference.removed, reference.emptied, reference.replaced, reference.cleaned), source.name
    return fast.output, reference.output


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_engines_agree_on_every_pydicom_sample_file(options: DeidOptions, tmp_path: Path) -> None:
    session = DeidSession(options)
    fast_files, fell_back = [], []
    for source in part10_samples():
        try:
            fast, reference = both_engines(source, tmp_path, session)
        except Unsupported:
            fell_back.append(source.name)
            continue
        except UserError:  # the pydicom engine cannot write this damaged file: nor may the byte-level one
            with pytest.raises(Unsupported):
                deidentify_fast(source, tmp_path / "fast.dcm", session)
            continue
        assert differences(contents(fast), contents(reference)) == [], source.name
        assert dcmdump_ok(fast), source.name
        fast_files.append(source.name)
    # (pydicom's dicomdirtests images, their pixel data removed to keep its package small, are
    # refused by both engines as images cut short: completeness.py)
    assert len(fast_files) >= (80 if not options.keep_safe_private else 60), (len(fast_files), fell_back)
    # the common syntaxes all go the fast way
    for name in ("CT_small.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm", "SC_rgb_jpeg_gdcm.dcm", "JPEGLSNearLossless_16.dcm"):
        assert name in fast_files or (options.keep_safe_private and name in fell_back)


def synthetic_files(folder: Path) -> list[Path]:
    """The test-time study and dental images, plus the same re-encoded by DCMTK with defined
    lengths for every sequence and item and a trailing padding element after the pixel data."""
    study = write_study(folder / "study", 4, 64, 64)
    files = list(study.files)
    files.append(write_intra_oral(folder / "io.dcm", seed=3))
    files.append(write_intra_oral(folder / "io-plain.dcm", seed=4, private=False, window=None))
    rgb = image_dataset(dental_pixels(64, 48)[..., None].repeat(3, axis=2).astype("uint8"), sop_uid=f"{UID_ROOT}.7.1",
                        study_uid=f"{UID_ROOT}.1", series_uid=f"{UID_ROOT}.7", photometric="RGB",
                        referenced=f"{UID_ROOT}.3.1")
    files.append(write_file(folder / "rgb.dcm", rgb))
    frames = image_dataset(dental_pixels(32, 32)[None].repeat(5, axis=0), sop_uid=f"{UID_ROOT}.8.1",
                           study_uid=f"{UID_ROOT}.1", series_uid=f"{UID_ROOT}.8")
    files.append(write_file(folder / "frames.dcm", frames))
    for source in list(files[:2]) + files[-3:]:
        defined = folder / f"{source.stem}-defined.dcm"
        subprocess.run(["dcmconv", "+e", "+p", "16", "8", str(source), str(defined)], check=True, capture_output=True)
        files.append(defined)
    return files


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_engines_agree_on_the_synthetic_studies(options: DeidOptions, tmp_path: Path) -> None:
    session = DeidSession(options)
    allowed = {"basic": (), "all-but-private": ("SN445566", "XRAYROOM2"), "dates-and-private": ("20260115",)}
    for source in synthetic_files(tmp_path / "in"):
        if options.keep_safe_private and b"GEMS_ACQU_01" in source.read_bytes():
            with pytest.raises(Unsupported):  # pydicom's private dictionary decides what is safe
                deidentify_fast(source, tmp_path / "fast.dcm", session)
            continue
        fast, reference = both_engines(source, tmp_path, session)
        assert differences(contents(fast), contents(reference)) == [], source.name
        assert dcmdump_ok(fast), source.name
        assert leaks(fast, allowed[next(k for k, v in OPTIONS.items() if v == options)]) == [], source.name
        assert pydicom.dcmread(fast).PixelData == pydicom.dcmread(source).PixelData


def test_only_changed_bytes_are_rewritten(tmp_path: Path) -> None:
    """A kept attribute is copied as it was, padding included; the pixel data is the original's."""
    source = write_intra_oral(tmp_path / "io.dcm")
    data = source.read_bytes()
    out = deidentify_fast(source, tmp_path / "o.dcm", DeidSession()).output.read_bytes()
    for kept in (b"\x08\x00\x70\x00LO\x0c\x00ACME Dental ", b"\x28\x00\x04\x00CS\x0c\x00MONOCHROME2 "):
        assert kept in data and kept in out
    pixels = data[data.rindex(b"\xe0\x7f\x10\x00"):]
    assert out.endswith(pixels)
    assert out[:128] == bytes(128) and out[128:132] == b"DICM"


def test_media_storage_uid_replaced_without_a_sop_instance_uid(tmp_path: Path) -> None:
    ds = image_dataset(dental_pixels(16, 16), sop_uid=f"{UID_ROOT}.9.9", study_uid=f"{UID_ROOT}.1", series_uid=f"{UID_ROOT}.2")
    del ds.SOPInstanceUID
    source = write_file(tmp_path / "nosop.dcm", ds)
    fast, reference = both_engines(source, tmp_path, DeidSession())
    assert differences(contents(fast), contents(reference)) == []
    uid = pydicom.dcmread(fast).file_meta.MediaStorageSOPInstanceUID
    assert uid.startswith("2.25.") and UID_ROOT.encode() not in fast.read_bytes()


# -- what must go to pydicom ----------------------------------------------------------------------


def _span(data: bytes, group: int, element: int, start: int = 0) -> tuple[int, int, int]:
    """(start, value start, end) of the explicit VR element (group, element) in ``data``."""
    at = data.index(struct.pack("<HH", group, element), start)
    vr = data[at + 4:at + 6]
    if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT", b"UC", b"UR"):
        (length,) = struct.unpack_from("<I", data, at + 8)
        return at, at + 12, at + 12 + length
    (length,) = struct.unpack_from("<H", data, at + 6)
    return at, at + 8, at + 8 + length


def _edited(tmp: Path, edit: Callable[[bytes], bytes]) -> Path:
    data = write_intra_oral(tmp / "base.dcm").read_bytes()
    path = tmp / "edited.dcm"
    path.write_bytes(edit(data))
    return path


def _odd_length(data: bytes) -> bytes:
    start, value, end = _span(data, 0x0008, 0x0070)  # Manufacturer "ACME Dental " -> "ACME Dental"
    return data[:start + 6] + struct.pack("<H", end - value - 1) + data[value:end - 1] + data[end:]


def _out_of_order(data: bytes) -> bytes:
    a, _, a_end = _span(data, 0x0008, 0x0060)  # Modality, then Manufacturer: swapped
    b, _, b_end = _span(data, 0x0008, 0x0070)
    assert a_end == b
    return data[:a] + data[b:b_end] + data[a:a_end] + data[b_end:]


def _no_version_name(data: bytes) -> bytes:
    start, _, end = _span(data, 0x0002, 0x0013)
    (group_length,) = struct.unpack_from("<I", data, 140)
    return data[:140] + struct.pack("<I", group_length - (end - start)) + data[144:start] + data[end:]


def _unknown_vr(data: bytes) -> bytes:
    start, _, _ = _span(data, 0x0008, 0x0070)
    return data[:start + 4] + b"XX" + data[start + 6:]


def _truncated_header(data: bytes) -> bytes:
    return data[:_span(data, 0x0010, 0x0010)[0] + 4]


def _with_dataset(tmp: Path, change: Callable[[pydicom.Dataset], None]) -> Path:
    ds = image_dataset(dental_pixels(32, 32), sop_uid=f"{UID_ROOT}.3.77", study_uid=f"{UID_ROOT}.1", series_uid=f"{UID_ROOT}.2")
    change(ds)
    return write_file(tmp / "changed.dcm", ds)


def _dcmconv(flag: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        source, target = write_intra_oral(tmp / "base.dcm"), tmp / f"conv{flag}.dcm"
        subprocess.run(["dcmconv", flag, str(source), str(target)], check=True, capture_output=True)
        return target
    return make


def _set(**values: object) -> Callable[[pydicom.Dataset], None]:
    def change(ds: pydicom.Dataset) -> None:
        for keyword, value in values.items():
            setattr(ds, keyword, value)
    return change


def _un_manufacturer(data: bytes) -> bytes:
    start, value, end = _span(data, 0x0008, 0x0070)  # Manufacturer (kept) stored as UN
    return data[:start + 4] + b"UN\x00\x00" + struct.pack("<I", end - value) + data[value:]


def _group_length(data: bytes) -> bytes:
    (meta_length,) = struct.unpack_from("<I", data, 140)
    at = 144 + meta_length  # the first element of the dataset: put (0008,0000) before it
    return data[:at] + struct.pack("<HH2sHI", 8, 0, b"UL", 4, 1234) + data[at:]


FALL_BACK: dict[str, tuple[Callable[[Path], Path], DeidOptions, bool]] = {
    # kind: (make the file, options, whether the pydicom engine can still de-identify it)
    "implicit VR": (lambda tmp: write_intra_oral(tmp / "implicit.dcm", implicit=True), DeidOptions(), True),
    "big endian": (_dcmconv("+tb"), DeidOptions(), True),
    "deflate": (_dcmconv("+td"), DeidOptions(), True),
    "odd length": (lambda tmp: _edited(tmp, _odd_length), DeidOptions(), True),
    "elements out of order": (lambda tmp: _edited(tmp, _out_of_order), DeidOptions(), True),
    "no implementation version name": (lambda tmp: _edited(tmp, _no_version_name), DeidOptions(), True),
    "a UN value to decode": (lambda tmp: _edited(tmp, _un_manufacturer), DeidOptions(), True),
    "an undefined length UN": (lambda tmp: Path(get_testdata_file("UN_sequence.dcm")), DeidOptions(), True),
    "text outside ASCII to decode": (lambda tmp: _with_dataset(tmp, _set(SpecificCharacterSet="ISO_IR 100", PatientID="PÄT778812")),
                                     DeidOptions(), True),
    "name component groups": (lambda tmp: _with_dataset(tmp, _set(PatientName="Muster^Erika=Muster^Erika")),
                              DeidOptions(clean_descriptors=True), True),
    "a group length element": (lambda tmp: _edited(tmp, _group_length), DeidOptions(), True),
    "private attributes under Retain Safe Private": (lambda tmp: write_intra_oral(tmp / "private.dcm"),
                                                     DeidOptions(keep_safe_private=True), True),
    "an unknown VR": (lambda tmp: _edited(tmp, _unknown_vr), DeidOptions(), False),
    "a truncated header": (lambda tmp: _edited(tmp, _truncated_header), DeidOptions(), False),
    "truncated pixel data": (lambda tmp: _edited(tmp, lambda data: data[:-100]), DeidOptions(), False),
}


@pytest.mark.parametrize("kind", FALL_BACK)
def test_each_kind_of_file_that_must_fall_back_does(kind: str, tmp_path: Path) -> None:
    make, options, readable = FALL_BACK[kind]
    source = make(tmp_path)
    session = DeidSession(options)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(Unsupported):
        deidentify_fast(source, out / "fast.dcm", session)
    assert list(out.iterdir()) == []  # nothing written before it gave up
    if not readable:
        with pytest.raises(UserError):
            deidentify_file(source, out / "o.dcm", session)
        assert list(out.iterdir()) == []
        return
    result = deidentify_file(source, out / "o.dcm", session)
    assert result.engine == "pydicom"
    assert dcmdump_ok(result.output)
    if UID_ROOT.encode() in source.read_bytes():  # ours: every value must be gone
        assert leaks(result.output) == [] and b"PAT778812" not in result.output.read_bytes()
    assert pydicom.dcmread(result.output).PatientIdentityRemoved == "YES"


# -- the pixel data copy --------------------------------------------------------------------------


def test_pixel_copy_without_copy_file_range_or_sendfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_intra_oral(tmp_path / "io.dcm")
    expected = deidentify_fast(source, tmp_path / "a.dcm", DeidSession(key=b"k" * 32)).output.read_bytes()
    monkeypatch.setattr(pixelcopy, "READ_AT_ONCE", 1024)  # as for a large volume: the kernel copies
    assert deidentify_fast(source, tmp_path / "k.dcm", DeidSession(key=b"k" * 32)).output.read_bytes() == expected

    def refuse(*_args: object) -> int:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
    assert deidentify_fast(source, tmp_path / "b.dcm", DeidSession(key=b"k" * 32)).output.read_bytes() == expected
    monkeypatch.setattr(os, "sendfile", refuse, raising=False)
    assert deidentify_fast(source, tmp_path / "c.dcm", DeidSession(key=b"k" * 32)).output.read_bytes() == expected


def test_a_real_write_error_is_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_intra_oral(tmp_path / "io.dcm")

    def full(*_args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "copy_file_range", full, raising=False)
    monkeypatch.setattr(pixelcopy, "READ_AT_ONCE", 1024)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UserError, match="No space left on device"):
        deidentify_file(source, out / "o.dcm", DeidSession())
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("change", ["shrinks", "grows"])
def test_a_file_that_changes_while_it_is_copied(change: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_intra_oral(tmp_path / "io.dcm")
    original = source.read_bytes()
    expected = deidentify_fast(source, tmp_path / "before.dcm", DeidSession(key=b"k" * 32)).output.read_bytes()
    real_pixels = fastdeid.Reader.pixels

    def pixels_then_change(reader: fastdeid.Reader, pos: int) -> tuple[int, int]:
        found = real_pixels(reader, pos)  # the header is read: now the file changes under us
        with open(source, "r+b") as handle:
            if change == "shrinks":
                handle.truncate(len(original) - 5000)
            else:
                handle.seek(0, os.SEEK_END)
                handle.write(b"\x00" * 5000)
        return found

    monkeypatch.setattr(fastdeid.Reader, "pixels", pixels_then_change)
    out = tmp_path / "out"
    out.mkdir()
    if change == "shrinks":
        with pytest.raises(UserError, match="could not be de-identified"):
            deidentify_file(source, out / "o.dcm", DeidSession(key=b"k" * 32))
        assert list(out.iterdir()) == []  # no half copy
    else:
        result = deidentify_file(source, out / "o.dcm", DeidSession(key=b"k" * 32))
        assert result.output.read_bytes() == expected  # what was there when it was read, nothing more


# -- the command as a process ----------------------------------------------------------------------


def test_dicom_deidentify_process_imports_nothing_heavy(tmp_path: Path) -> None:
    """`smimehelper dicom deidentify` over a study (worker processes included) never imports
    pydicom, numpy, Pillow or the MIME/e-mail code: the byte-level engine needs none of them."""
    study = write_study(tmp_path / "study", 40, 32, 32)
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "TMPDIR": str(tmp_path)}
    proc = subprocess.run([str(console_script()), "dicom", "deidentify", str(study.folder), "-o", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "smimehelper" in imported
    assert imported.isdisjoint({"pydicom", "numpy", "PIL", "email", "cryptography", "asn1crypto", "PySide6"}), imported
    outputs = sorted((tmp_path / "out").iterdir())
    assert len(outputs) == 40 and all(not leaks(p) for p in outputs)
    assert dcmdump_ok(outputs[0]) and dcmdump_ok(outputs[-1])
