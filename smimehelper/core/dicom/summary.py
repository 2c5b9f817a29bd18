"""What a DICOM file tells about its patient, shown before sending.

Renaming a file hides nothing: the name, IDs and birth date travel inside it. This summary is
what the dentist sees per file (and ``smimehelper dicom info`` prints), with a warning when the
image itself may carry text (Burned In Annotation YES, or a modality that often burns in names:
ultrasound, secondary capture, scanned documents, endoscopy...).

The disclosure log reads its own fields from the files that travel (core/disclosure/files.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import InputFileError
from .files import require_regular_file

# Modalities whose images often carry the patient's name in the pixels (PS3.15 E.3.1 notes
# ultrasound, secondary capture; plus documents, photographs, endoscopy, screenshots, dental
# photographs and panoramic exports from practice software).
BURNED_IN_MODALITIES = frozenset({"US", "SC", "OT", "DOC", "XC", "ES", "GM", "SM", "IVUS", "OP", "PX"})


@dataclass(frozen=True)
class PatientSummary:
    """The identifying attributes of one file ("" when absent)."""

    path: Path
    patient_name: str
    patient_id: str
    birth_date: str  # YYYY-MM-DD when the file has a full date, else as written
    sex: str
    study_date: str
    study_description: str
    institution: str
    referring_physician: str
    modality: str
    sop_class: str
    study_uid: str
    burned_in_annotation: str  # "YES", "NO" or ""
    deidentified: bool  # PatientIdentityRemoved is YES
    frames: int
    warning: str | None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def summarize(path: Path) -> PatientSummary:
    """Read the header of ``path`` (pixel data is skipped); InputFileError if it is not DICOM."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = require_regular_file(Path(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True)
    except FileNotFoundError:
        raise InputFileError(f"{path} does not exist.") from None
    except PermissionError:
        raise InputFileError(f"{path} cannot be read (permission denied).") from None
    except InvalidDicomError:
        raise InputFileError(f"{path.name} is not a DICOM file.") from None
    except Exception as exc:  # damaged files raise many kinds
        raise InputFileError(f"{path.name} is a damaged DICOM file ({type(exc).__name__}).") from None
    return summary_of(ds, path)


def summary_of(ds: Any, path: Path) -> PatientSummary:
    modality = _text(ds, "Modality").upper()
    burned = _text(ds, "BurnedInAnnotation").upper()
    warning = None
    if burned == "YES":
        warning = "The image itself contains text (Burned In Annotation: YES), which may show the patient's name."
    elif modality in BURNED_IN_MODALITIES and burned != "NO":
        warning = (f"{_MODALITY_NAMES.get(modality, modality)} images often show the patient's name inside the "
                   "picture; look at the preview before sending.")
    try:
        frames = max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        frames = 1
    return PatientSummary(
        path=path,
        patient_name=_person(ds.get("PatientName")),
        patient_id=_text(ds, "PatientID"),
        birth_date=_date(_text(ds, "PatientBirthDate")),
        sex=_text(ds, "PatientSex"),
        study_date=_date(_text(ds, "StudyDate")),
        study_description=_text(ds, "StudyDescription"),
        institution=_text(ds, "InstitutionName"),
        referring_physician=_person(ds.get("ReferringPhysicianName")),
        modality=modality,
        sop_class=_sop_class_name(_text(ds, "SOPClassUID")),
        study_uid=_text(ds, "StudyInstanceUID"),
        burned_in_annotation=burned,
        deidentified=_text(ds, "PatientIdentityRemoved").upper() == "YES",
        frames=frames,
        warning=warning,
    )


def summarize_many(paths: Sequence[Path]) -> list[PatientSummary]:
    return [summarize(p) for p in paths]


_MODALITY_NAMES = {"US": "Ultrasound", "SC": "Secondary capture (screenshot)", "OT": "Other", "DOC": "Scanned document",
                   "XC": "Photograph", "ES": "Endoscopy", "GM": "Microscopy", "SM": "Slide microscopy",
                   "IVUS": "Intravascular ultrasound", "OP": "Eye photograph", "PX": "Panoramic x-ray"}


def _text(ds: Any, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value).strip()
    return str(value).strip()


def _person(value: Any) -> str:
    """DICOM PN "Family^Given^Middle^Prefix^Suffix" as "Given Middle Family"."""
    if value is None or str(value).strip() == "":
        return ""
    text = str(value).split("=")[0]
    parts = (text.split("^") + [""] * 5)[:5]
    family, given, middle, prefix, suffix = (p.strip() for p in parts)
    return " ".join(p for p in (prefix, given, middle, family, suffix) if p) or text.strip()


def _date(value: str) -> str:
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def _sop_class_name(uid: str) -> str:
    if not uid:
        return ""
    try:
        from pydicom.uid import UID

        return UID(uid).name
    except Exception:
        return uid
