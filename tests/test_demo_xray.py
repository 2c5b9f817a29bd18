"""Tests for the synthetic dental x-ray used by the ``demo`` command."""

from __future__ import annotations

import pathlib

import numpy as np
import pydicom
from pydicom.uid import ExplicitVRLittleEndian

from smimehelper.demo_xray import write_synthetic_dental_xray

IO_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.3"


def test_writes_valid_synthetic_intra_oral_dicom(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "demo.dcm"
    write_synthetic_dental_xray(path, seed=0)

    raw = path.read_bytes()
    assert raw[128:132] == b"DICM"
    assert 300_000 < len(raw) < 500_000  # "around 400 KB"

    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.file_meta.MediaStorageSOPClassUID == IO_FOR_PRESENTATION
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.SOPClassUID == IO_FOR_PRESENTATION
    assert ds.Modality == "IO"
    assert str(ds.PatientName) == "DEMO^SYNTHETIC"
    assert ds.PatientID == "DEMO-0001"
    assert "SYNTHETIC" in ds.StudyDescription.upper()
    assert ds.StudyDate == "20260101"
    assert ds.PhotometricInterpretation == "MONOCHROME2"
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (16, 12, 11)
    assert ds.PixelRepresentation == 0
    assert (ds.Rows, ds.Columns) == (400, 512)

    pixels = ds.pixel_array
    assert pixels.shape == (400, 512)
    assert pixels.dtype == np.uint16
    assert int(pixels.max()) <= 4095
    assert pixels.std() > 100  # an actual image, not a flat field


def test_same_seed_gives_identical_pixels(tmp_path: pathlib.Path) -> None:
    first = tmp_path / "a.dcm"
    second = tmp_path / "b.dcm"
    other = tmp_path / "c.dcm"
    write_synthetic_dental_xray(first, seed=3)
    write_synthetic_dental_xray(second, seed=3)
    write_synthetic_dental_xray(other, seed=4)

    ds_a, ds_b, ds_c = (pydicom.dcmread(p) for p in (first, second, other))
    assert ds_a.PixelData == ds_b.PixelData
    assert np.array_equal(ds_a.pixel_array, ds_b.pixel_array)
    assert ds_a.PixelData != ds_c.PixelData
    # Each written file is a new instance.
    assert ds_a.SOPInstanceUID != ds_b.SOPInstanceUID


def test_atomic_write_leaves_no_temp_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "demo.dcm"
    path.write_bytes(b"old content")  # overwriting an existing file is fine

    write_synthetic_dental_xray(path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.dcm"]
    assert path.read_bytes()[128:132] == b"DICM"
