"""DICOM previews in the package, judged against DCMTK's renderer (dcmj2pnm)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from smimehelper.core.package.preview import MAX_SIDE, dicom_preview
from smimehelper.demo_xray import write_synthetic_dental_xray

if shutil.which("dcmj2pnm") is None:  # the judge is required (scripts/test installs it), never a silent skip
    pytest.fail("DCMTK is the judge of DICOM previews: apt-get install dcmtk", pytrace=False)


def _dcmtk(path: Path, out: Path) -> np.ndarray:
    """DCMTK's rendering with the file's first VOI window, as PNG."""
    subprocess.run(["dcmj2pnm", "+Wi", "1", "+on", str(path), str(out)], check=True, capture_output=True)
    return np.asarray(Image.open(out).convert("L"), dtype=np.float64)


def _ours(path: Path) -> Image.Image:
    data = dicom_preview(path)
    assert data is not None and data[:3] == b"\xff\xd8\xff"
    return Image.open(io.BytesIO(data))


def _close(ours: Image.Image, reference: np.ndarray) -> float:
    resized = np.asarray(ours.convert("L").resize((reference.shape[1], reference.shape[0])), dtype=np.float64)
    return float(np.mean(np.abs(resized - reference)))


def test_preview_matches_dcmtk_with_the_stored_window(tmp_path: Path) -> None:
    xray = tmp_path / "xray.dcm"
    write_synthetic_dental_xray(xray)
    ours = _ours(xray)
    assert ours.size == (512, 400) and ours.mode == "L"
    assert _close(ours, _dcmtk(xray, tmp_path / "ref.png")) < 4.0  # of 255; JPEG noise only


def test_monochrome1_is_inverted_like_dcmtk(tmp_path: Path) -> None:
    xray = tmp_path / "xray.dcm"
    write_synthetic_dental_xray(xray)
    ds = pydicom.dcmread(xray)
    ds.PhotometricInterpretation = "MONOCHROME1"
    del ds.PresentationLUTShape  # the demo writes IDENTITY, which would override MONOCHROME1
    inverted = tmp_path / "mono1.dcm"
    ds.save_as(inverted)
    reference = _dcmtk(inverted, tmp_path / "ref1.png")
    assert _close(_ours(inverted), reference) < 4.0
    assert _close(_ours(xray), reference) > 40  # really inverted, not the same picture
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PresentationLUTShape = "INVERSE"
    shaped = tmp_path / "inverse.dcm"
    ds.save_as(shaped)
    assert _close(_ours(shaped), _dcmtk(shaped, tmp_path / "ref2.png")) < 4.0


def test_multiframe_uses_the_middle_frame_and_large_images_are_scaled(tmp_path: Path) -> None:
    xray = tmp_path / "xray.dcm"
    write_synthetic_dental_xray(xray)
    ds = pydicom.dcmread(xray)
    frames = np.stack([np.full((2400, 1800), v, dtype=np.uint16) for v in (0, 3000, 4095)])
    ds.Rows, ds.Columns = 2400, 1800
    ds.NumberOfFrames = 3
    ds.PixelData = frames.tobytes()
    big = tmp_path / "multi.dcm"
    ds.save_as(big)
    image = _ours(big)
    assert max(image.size) == MAX_SIDE
    expected = (3000 - (2048 - 0.5 - 4095 / 2)) / 4095 * 255
    assert abs(float(np.asarray(image).mean()) - expected) < 3


@pytest.mark.parametrize("content", [b"", b"\x00" * 128 + b"DICM" + b"\x01" * 50, b"not dicom at all"])
def test_unrenderable_files_give_no_preview(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.dcm"
    path.write_bytes(content)
    assert dicom_preview(path) is None


def test_dicom_without_pixels_gives_no_preview(tmp_path: Path) -> None:
    xray = tmp_path / "xray.dcm"
    write_synthetic_dental_xray(xray)
    ds = pydicom.dcmread(xray)
    del ds.PixelData
    ds.save_as(tmp_path / "nopixels.dcm")
    assert dicom_preview(tmp_path / "nopixels.dcm") is None
