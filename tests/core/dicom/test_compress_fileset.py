"""Lossless compression judged by DCMTK's and GDCM's decoders; File-sets by dcmdump; the
option table by regenerating it from the machine-readable standard."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from smimehelper.core.dicom.compress import compress_file, saving_text
from smimehelper.core.dicom.fileset import FileSetError, dicom_files_in, write_fileset_zip
from smimehelper.core.errors import UserError
from tests.core.dicom.synthetic import UID_ROOT, image_dataset, write_file, write_intra_oral, write_study

DECODERS = {"jpeg-ls": ["dcmdjpls"], "rle": ["dcmdrle"], "jpeg2000": ["gdcmconv", "--raw"]}


def decoded_by_judge(method: str, path: Path, tmp_path: Path) -> np.ndarray:
    out = tmp_path / f"judge-{method}.dcm"
    proc = subprocess.run([*DECODERS[method], str(path), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ds = pydicom.dcmread(out)
    assert not ds.file_meta.TransferSyntaxUID.is_compressed
    return ds.pixel_array


@pytest.mark.parametrize("method", ["jpeg-ls", "rle", "jpeg2000"])
def test_dental_xray_pixel_exact_by_dcmtk_and_gdcm(method: str, tmp_path: Path) -> None:
    source = write_intra_oral(tmp_path / "xray.dcm")
    result = compress_file(source, tmp_path / "small.dcm", method)
    assert result.method == method and result.size < result.original_size
    assert np.array_equal(decoded_by_judge(method, result.output, tmp_path), pydicom.dcmread(source).pixel_array)
    assert subprocess.run(["dcmdump", "-E", str(result.output)], capture_output=True).returncode == 0


@pytest.mark.parametrize("method", ["jpeg-ls", "jpeg2000"])
def test_multiframe_and_rgb_pixel_exact(method: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frames = (np.cumsum(rng.integers(0, 3, (4, 64, 80)), axis=2) % 4096).astype(np.uint16)
    multi = write_file(tmp_path / "multi.dcm", image_dataset(frames, sop_uid=f"{UID_ROOT}.3.5", study_uid=f"{UID_ROOT}.1", series_uid=f"{UID_ROOT}.2",
                                                               modality="OT", sop_class="1.2.840.10008.5.1.4.1.1.7.3"))
    rgb = np.zeros((40, 60, 3), dtype=np.uint8)
    rgb[..., 0] = np.arange(60, dtype=np.uint8)[None, :] * 4
    rgb[..., 1] = 90
    colour = write_file(tmp_path / "rgb.dcm", image_dataset(rgb, sop_uid=f"{UID_ROOT}.3.6", study_uid=f"{UID_ROOT}.1",
                                                             series_uid=f"{UID_ROOT}.2", photometric="RGB", window=None,
                                                             modality="XC", sop_class="1.2.840.10008.5.1.4.1.1.7"))
    for source in (multi, colour):
        result = compress_file(source, tmp_path / f"c-{source.name}", method)
        assert result.method == method, result.note
        assert np.array_equal(decoded_by_judge(method, result.output, tmp_path), pydicom.dcmread(source).pixel_array)


def test_compressed_and_imageless_files_are_copied_unchanged(tmp_path: Path) -> None:
    for name in ("JPEG2000.dcm", "rtplan.dcm"):
        source = Path(get_testdata_file(name))
        result = compress_file(source, tmp_path / name)
        assert result.method is None and result.output.read_bytes() == source.read_bytes()
    assert "smaller" in saving_text([compress_file(write_intra_oral(tmp_path / "x.dcm"), tmp_path / "y.dcm")])


def test_bad_inputs(tmp_path: Path) -> None:
    text = tmp_path / "a.txt"
    text.write_text("x")
    for bad in (text, tmp_path, Path("/dev/zero")):
        with pytest.raises(UserError):
            compress_file(bad, tmp_path / "o.dcm")
    with pytest.raises(UserError):
        compress_file(write_intra_oral(tmp_path / "x.dcm"), tmp_path / "o.dcm", "zip")
    assert not (tmp_path / "o.dcm").exists()


def test_fileset_zip_dicomdir_lists_every_file_for_dcmdump(tmp_path: Path) -> None:
    study = write_study(tmp_path / "study", 12)
    (tmp_path / "study" / "notes.txt").write_text("not dicom")
    files = dicom_files_in(tmp_path / "study")
    assert len(files) == 12
    result = write_fileset_zip(files, tmp_path / "study.zip")
    assert result.files == 12
    with zipfile.ZipFile(result.path) as archive:
        archive.extractall(tmp_path / "x")
    proc = subprocess.run(["dcmdump", "-E", str(tmp_path / "x" / "DICOMDIR")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    referenced = [line for line in proc.stdout.splitlines() if "ReferencedFileID" in line]
    assert len(referenced) == 12
    for line in referenced:
        relative = line.split("[", 1)[1].split("]", 1)[0].replace("\\", "/")
        assert (tmp_path / "x" / relative).is_file()
    assert study.study_uid in proc.stdout
    with pytest.raises(FileSetError):
        write_fileset_zip([], tmp_path / "empty.zip")


def test_option_table_is_what_the_generator_makes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", Path(__file__).parents[3] / "scripts" / "generate_deid_options.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == module.TARGET.read_text(encoding="utf-8")
