"""DICOM files: previews, what identifies the patient, de-identification, compression, file-sets
and splitting a large study over several messages.

This package imports nothing heavy at import time (pydicom, numpy and Pillow are imported by the
functions that need them), so ``smimehelper --help`` and the subject-line check stay quick.
"""

from __future__ import annotations

from .identifiers import patient_identifiers

__all__ = ["patient_identifiers"]
