"""Synthetic DICOM files with realistic patient details, written at test time.

Every identifying value is distinctive (see PHI) so a byte scan of an output can prove it is
gone. Studies share study/series UIDs and reference each other, like a CBCT series does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

UID_ROOT = "1.2.826.0.1.3680043.8.498.4711"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
INTRA_ORAL = "1.2.840.10008.5.1.4.1.1.1.3"

PHI = {
    "PatientName": "Muster^Erika^Anna",
    "PatientID": "PAT778812",
    "PatientBirthDate": "19750412",
    "OtherPatientIDs": "KV55443322",
    "PatientAddress": "Lindenweg 7 Zuerich",
    "AccessionNumber": "ACC99812",
    "StudyID": "ST4711",
    "InstitutionName": "Zahnarztpraxis Sonnenberg",
    "InstitutionAddress": "Sonnenbergstrasse 12",
    "ReferringPhysicianName": "Hausarzt^Karl",
    "OperatorsName": "Assistentin^Lea",
    "StationName": "XRAYROOM2",
    "DeviceSerialNumber": "SN445566",
    "StudyDate": "20260115",
    "StudyTime": "101500",
    "StudyDescription": "Pano Erika Muster Ortho",
    "SeriesDescription": "Muster left molar",
    "ImageComments": "Erika Muster complains of pain",
}
PRIVATE_TEXT = "Erika Muster private note"
# Values whose presence anywhere in an output means a leak (dates only as whole values).
LEAK_STRINGS = (
    "Muster", "Erika", "PAT778812", "19750412", "KV55443322", "Lindenweg", "ACC99812",
    "Sonnenberg", "Hausarzt", "Assistentin", "XRAYROOM2", "SN445566", "20260115", UID_ROOT,
)


@dataclass(frozen=True)
class Study:
    folder: Path
    files: tuple[Path, ...]
    study_uid: str
    series_uid: str
    sop_uids: tuple[str, ...]


def image_dataset(pixels: np.ndarray, *, sop_uid: str, study_uid: str, series_uid: str, number: int = 1,
                  modality: str = "IO", sop_class: str = INTRA_ORAL, photometric: str = "MONOCHROME2",
                  window: tuple[float, float] | None = (2048.0, 4096.0), referenced: str | None = None,
                  private: bool = True, implicit: bool = False) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = "XRAYROOM2"
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = f"{UID_ROOT}.9.1"
    ds.Modality = modality
    ds.Manufacturer = "ACME Dental"
    ds.PatientSex = "F"
    ds.PatientAge = "050Y"
    ds.PatientWeight = "61.5"
    ds.BurnedInAnnotation = "NO"
    for keyword, value in PHI.items():
        setattr(ds, keyword, value)
    ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = "20260115"
    ds.ContentTime = "101502"
    ds.AcquisitionDateTime = "20260115101502"
    ds.SeriesNumber = 1
    ds.InstanceNumber = number
    if referenced:
        item = Dataset()
        item.ReferencedSOPClassUID = sop_class
        item.ReferencedSOPInstanceUID = referenced
        ds.ReferencedImageSequence = Sequence([item])
    if private:
        block = ds.private_block(0x0009, "ACME_DENT_PRIVATE", create=True)
        block.add_new(0x01, "LO", PRIVATE_TEXT)
        safe = ds.private_block(0x0009, "GEMS_ACQU_01", create=True)
        safe.add_new(0x25, "US", 42)  # known to pydicom's private dictionary as US: "safe"
        safe.add_new(0x24, "DS", "20260115")  # DS could hide a date: never "safe"
    frames = 1 if pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[-1] == 3) else pixels.shape[0]
    ds.Rows, ds.Columns = pixels.shape[-2:] if pixels.shape[-1] != 3 or photometric != "RGB" else pixels.shape[-3:-1]
    if photometric == "RGB":
        ds.SamplesPerPixel = 3
        ds.PlanarConfiguration = 0
    else:
        ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = 12 if pixels.dtype.itemsize == 2 and pixels.max() < 4096 else ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    if window and photometric != "RGB":
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    return ds


def dental_pixels(rows: int = 256, cols: int = 320, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    teeth = (np.sin(x / cols * 9.0) > 0.2) * (y < rows * 0.7) * 2400
    img = 600 + teeth + (x * 3) % 700 + rng.integers(0, 120, size=(rows, cols))
    return np.clip(img, 0, 4095).astype(np.uint16)


def write_file(path: Path, ds: Dataset) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_intra_oral(path: Path, seed: int = 0, **kwargs) -> Path:
    ds = image_dataset(dental_pixels(seed=seed), sop_uid=f"{UID_ROOT}.3.{seed}", study_uid=f"{UID_ROOT}.1",
                       series_uid=f"{UID_ROOT}.2", **kwargs)
    return write_file(path, ds)


def write_study(folder: Path, slices: int, rows: int = 128, cols: int = 128, *, noise: bool = False) -> Study:
    """A CBCT-like series: one file per slice, each slice referencing the previous one."""
    study_uid, series_uid = f"{UID_ROOT}.1", f"{UID_ROOT}.2"
    y, x = np.mgrid[0:rows, 0:cols]
    base = ((x + y) % 4096).astype(np.uint16)
    rng = np.random.default_rng(1)
    files, uids = [], []
    for number in range(1, slices + 1):
        uid = f"{UID_ROOT}.3.{number}"
        pixels = (base + number * 7) % 4096 if not noise else rng.integers(0, 4096, (rows, cols), dtype=np.uint16)
        ds = image_dataset(pixels.astype(np.uint16), sop_uid=uid, study_uid=study_uid, series_uid=series_uid,
                           number=number, modality="CT", sop_class=CT_IMAGE, window=(1024.0, 4096.0),
                           referenced=uids[-1] if uids else None)
        ds.ImagePositionPatient = [0.0, 0.0, float(number)]
        files.append(write_file(folder / f"Muster_Erika_{number:04d}.dcm", ds))
        uids.append(uid)
    return Study(folder, tuple(files), study_uid, series_uid, tuple(uids))


def read(path: Path) -> Dataset:
    return pydicom.dcmread(path)
