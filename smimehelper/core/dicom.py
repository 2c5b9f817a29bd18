"""What a DICOM file says about its patient, for the subject-line warning.

Only the header is read (pixel data is skipped), so this is quick even for large studies.
"""

from __future__ import annotations

from pathlib import Path


def patient_identifiers(path: Path) -> tuple[str, ...]:
    """Patient name parts, ID and birth date from a DICOM file; () when unreadable."""
    try:
        import pydicom
        from pydicom.errors import InvalidDicomError
    except ImportError:  # pragma: no cover - pydicom is a declared dependency
        return ()
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=[
            "PatientName", "PatientID", "PatientBirthDate"])
    except (InvalidDicomError, OSError, ValueError, TypeError, AttributeError, KeyError):
        return ()
    found: list[str] = []
    name = dataset.get("PatientName")
    if name:
        found += [part for part in str(name).replace("^", " ").split() if len(part) > 2]
    for keyword in ("PatientID", "PatientBirthDate"):
        value = dataset.get(keyword)
        if value:
            found.append(str(value))
    birth = dataset.get("PatientBirthDate")
    if birth and len(str(birth)) == 8:
        b = str(birth)
        found += [f"{b[6:8]}.{b[4:6]}.{b[0:4]}", f"{b[0:4]}-{b[4:6]}-{b[6:8]}"]
    return tuple(found)
