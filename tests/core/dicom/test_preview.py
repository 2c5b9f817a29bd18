"""Previews: DCMTK's dcmj2pnm renders the same grey values (window, VOI, MONOCHROME1)."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from smimehelper.core.dicom.preview import preview, preview_png, thumbnail_png
from smimehelper.core.errors import InputFileError
from tests.core.dicom.synthetic import UID_ROOT, dental_pixels, image_dataset, write_file


def png_array(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def dcmtk_render(path: Path, tmp_path: Path, *options: str) -> np.ndarray:
    out = tmp_path / "dcmtk.png"
    subprocess.run(["dcmj2pnm", "--write-png", *options, str(path), str(out)], check=True, capture_output=True)
    return np.asarray(Image.open(out))


def synthetic(tmp_path: Path, name: str, **kwargs) -> Path:
    ds = image_dataset(dental_pixels(), sop_uid=f"{UID_ROOT}.3.1", study_uid=f"{UID_ROOT}.1", series_uid=f"{UID_ROOT}.2", **kwargs)
    return write_file(tmp_path / name, ds)


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_window_and_monochrome1_match_dcmtk(tmp_path: Path, photometric: str) -> None:
    path = synthetic(tmp_path, "xray.dcm", photometric=photometric, window=(1500.0, 2000.0))
    ours = png_array(preview_png(path, max_side=4096))
    theirs = dcmtk_render(path, tmp_path, "--use-window", "1")
    assert ours.shape == theirs.shape
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
    if photometric == "MONOCHROME1":  # inverted: the brightest stored value is shown black
        dark = dental_pixels() > 2600
        assert ours[dark].mean() < 30


def test_no_window_uses_full_range_like_dcmtk_min_max(tmp_path: Path) -> None:
    path = synthetic(tmp_path, "nowin.dcm", window=None)
    ours = png_array(preview_png(path, max_side=4096))
    theirs = dcmtk_render(path, tmp_path, "--min-max-window")
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_multiframe_shows_the_middle_frame(tmp_path: Path) -> None:
    frames = np.stack([np.full((32, 48), v, dtype=np.uint16) for v in (100, 2000, 4000)])
    ds = image_dataset(frames, sop_uid=f"{UID_ROOT}.3.9", study_uid=f"{UID_ROOT}.1", series_uid=f"{UID_ROOT}.2",
                       window=(2048.0, 4096.0))
    path = write_file(tmp_path / "multi.dcm", ds)
    shown = preview(path)
    assert shown is not None and (shown.frame, shown.frames) == (1, 3)
    value = png_array(shown.png)[0, 0]
    assert 110 <= value <= 140  # 2000 in a 0..4096 window, not the first (100) or last (4000)


@pytest.mark.parametrize("name,mode", [("CT_small.dcm", "L"), ("MR_small_jp2klossless.dcm", "L"),
                                       ("SC_rgb_rle.dcm", "RGB"), ("examples_palette.dcm", "RGB"),
                                       ("examples_ybr_color.dcm", "RGB"), ("JPEG2000.dcm", "L"),
                                       ("MR_small_jpeg_ls_lossless.dcm", "L"), ("SC_rgb_jpeg_gdcm.dcm", "RGB"),
                                       ("SC_rgb_jpeg.dcm", "RGB"), ("SC_rgb_dcmtk_+eb+cy+s4.dcm", "RGB")])
def test_pydicom_sample_files(name: str, mode: str) -> None:
    data = preview_png(Path(get_testdata_file(name)), max_side=96)
    assert data is not None
    image = Image.open(io.BytesIO(data))
    assert image.mode == mode and max(image.size) <= 96


def test_12_bit_jpeg_extended_has_no_preview() -> None:
    """No MPL-compatible decoder here reads 12-bit JPEG Extended (docs/dicom.md, Licences):
    no preview, never an error; the file itself still travels and is de-identified unchanged."""
    assert preview_png(Path(get_testdata_file("JPEG-lossy.dcm"))) is None


def test_rgb_colours_survive(tmp_path: Path) -> None:
    rgb = np.zeros((20, 30, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    rgb[:, 15:, 2] = 255
    ds = image_dataset(rgb, sop_uid=f"{UID_ROOT}.3.7", study_uid=f"{UID_ROOT}.1", series_uid=f"{UID_ROOT}.2",
                       photometric="RGB", window=None, modality="XC")
    path = write_file(tmp_path / "photo.dcm", ds)
    shown = png_array(preview_png(path))
    assert tuple(shown[0, 0]) == (200, 0, 0) and tuple(shown[0, 29]) == (200, 0, 255)


def test_thumbnail_is_small() -> None:
    image = Image.open(io.BytesIO(thumbnail_png(Path(get_testdata_file("CT_small.dcm")), 48)))
    assert max(image.size) == 48


def test_no_pixel_data_gives_none() -> None:
    assert preview_png(Path(get_testdata_file("rtplan.dcm"))) is None
    assert preview_png(Path(get_testdata_file("test-SR.dcm"))) is None


def test_not_dicom_folder_missing_and_dev_zero(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("Erika Muster")
    for bad in (text, tmp_path, tmp_path / "missing.dcm"):
        with pytest.raises(InputFileError):
            preview_png(bad)
    if os.path.exists("/dev/zero"):
        with pytest.raises(InputFileError):
            preview_png(Path("/dev/zero"))


def test_truncated_pixel_data_gives_none(tmp_path: Path) -> None:
    path = synthetic(tmp_path, "cut.dcm")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 5000])
    assert preview_png(path) is None
