"""What a DICOM file says about its patient, for the subject-line warning.

Only the header is read (pixel data is skipped), so this is quick even for large studies. The
check is advisory: a damaged or unusual DICOM file must never stop a message from being sent, so
any failure to read it gives no identifiers, and pydicom's warnings are not shown to the user.
"""

from __future__ import annotations

import warnings
from pathlib import Path


def patient_identifiers(path: Path) -> tuple[str, ...]:
    """Patient name parts, ID and birth date from a DICOM file; () when unreadable."""
    try:
        import pydicom
    except ImportError:  # pragma: no cover - pydicom is a declared dependency
        return ()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = pydicom.dcmread(
                path,
                stop_before_pixels=True,
                specific_tags=["PatientName", "PatientID", "PatientBirthDate"],
            )
            return _identifiers(dataset)
    except Exception:  # pydicom raises many kinds on damaged files; the check is advisory
        return ()


def _identifiers(dataset: object) -> tuple[str, ...]:
    found: list[str] = []
    name = dataset.get("PatientName")  # type: ignore[attr-defined]
    if name:
        found += [part for part in str(name).replace("^", " ").split() if len(part) > 2]
    for keyword in ("PatientID", "PatientBirthDate"):
        value = dataset.get(keyword)  # type: ignore[attr-defined]
        if value:
            found.append(str(value))
    birth = dataset.get("PatientBirthDate")  # type: ignore[attr-defined]
    if birth and len(str(birth)) == 8:
        b = str(birth)
        found += [f"{b[6:8]}.{b[4:6]}.{b[0:4]}", f"{b[0:4]}-{b[4:6]}-{b[6:8]}"]
    return tuple(found)
