"""Whether a DICOM file is whole: a copy of part of a file must never travel as the x-ray.

Found by cutting a dental x-ray at every byte of its header: both engines copied a file cut
exactly between two attributes (it reads as a shorter, valid file), and pydicom also one cut
inside its File Meta or inside a sequence. What such a copy lacks is its image: so an image (a
SOP class of "... Image Storage", or any data set with Rows) must have pixel data, and a file must
hold more than its File Meta. Used by both engines, without importing pydicom.
"""

from __future__ import annotations

import functools

from .annex_e import pydicom_file_module

ROWS = 0x00280010
SOP_CLASS_UID = 0x00080016
PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})  # Pixel Data, Float and Double Float


@functools.lru_cache(maxsize=1)
def image_storage_classes() -> frozenset[str]:
    """The SOP classes of images (PS3.6 Annex A, pydicom's copy): they always carry pixel data."""
    uids = pydicom_file_module("_uid_dict").UID_dictionary  # type: ignore[attr-defined]
    return frozenset(uid for uid, entry in uids.items() if entry[1] == "SOP Class" and "Image Storage" in entry[0])


def missing_part(*, empty: bool, has_pixels: bool, has_rows: bool, sop_class: str | None) -> str | None:
    """Why the file cannot be whole (worded for "... is damaged (HERE: part of it is missing)"), or None."""
    if empty:
        return "it ends after its File Meta"
    if not has_pixels and (has_rows or (sop_class or "").rstrip("\0 ") in image_storage_classes()):
        return "it ends before its pixel data"
    return None
