"""Describing a disclosed file for the log: name, type, size, SHA-256, DICOM patient fields.

The SHA-256 lets the practice prove later which exact file was sent (hash the copy in the
patient's record and compare). For DICOM files the patient name and ID and the study date and
description are read from the header (pixel data is skipped; pydicom is imported only here),
or "de-identified" when the file says its identity was removed (Patient Identity Removed =
YES, PS3.15 E.1). A DICOM file that cannot be parsed is still logged, by name and hash.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputFileError
from .model import DisclosedFile, PatientFields

CHUNK = 1 << 20


def describe_files(paths: Iterable[Path]) -> tuple[DisclosedFile, ...]:
    return tuple(describe_file(Path(p)) for p in paths)


def describe_file(path: Path, *, name: str | None = None, content_type: str | None = None) -> DisclosedFile:
    """Hash ``path`` in bounded memory and read its DICOM fields when it is DICOM."""
    from ..mime.writer import prepare_attachment

    attachment = prepare_attachment(path)
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as handle:
            while block := handle.read(CHUNK):
                digest.update(block)
                size += len(block)
    except OSError as exc:
        raise InputFileError(f"The file {path} cannot be read for the disclosure log: {exc.strerror}.") from None
    kind = content_type or attachment.content_type
    dicom = dicom_fields(path) if kind == "application/dicom" else None
    return DisclosedFile(name or attachment.filename, kind, size, digest.hexdigest(), dicom)


def dicom_fields(path: Path) -> PatientFields | None:
    """The patient and study fields of a DICOM file; None when it cannot be read as DICOM."""
    try:
        import pydicom
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(
                path, stop_before_pixels=True,
                specific_tags=["PatientName", "PatientID", "StudyDate", "StudyDescription",
                               "PatientIdentityRemoved", "DeidentificationMethod"],
            )
            removed = str(ds.get("PatientIdentityRemoved", "") or "").strip().upper() == "YES"
            if removed:
                return PatientFields(deidentified=True)
            name = str(ds.get("PatientName", "") or "").replace("^", " ").strip()
            name = " ".join(name.split())
            return PatientFields(
                name=name,
                patient_id=str(ds.get("PatientID", "") or "").strip(),
                study_date=_date(str(ds.get("StudyDate", "") or "").strip()),
                study_description=str(ds.get("StudyDescription", "") or "").strip(),
            )
    except Exception:  # pydicom raises many kinds on damaged files; the file is still logged
        return None


def _date(value: str) -> str:
    if len(value) == 8 and value.isdigit():
        return f"{value[0:4]}-{value[4:6]}-{value[6:8]}"
    return value
