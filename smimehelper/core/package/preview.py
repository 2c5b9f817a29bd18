"""Preview images for the package page, rendered when the package is made.

A browser shows JPEG and PNG by itself (the page uses the file as its own preview); a DICOM
image is rendered by the one DICOM renderer (:mod:`smimehelper.core.dicom.preview`: VOI LUT or
window, MONOCHROME1, the middle frame), at most 1024 pixels, as JPEG to keep the page small.

A preview is a convenience: any failure (compressed pixel data without a decoder, a damaged
file) gives no preview, never an error, and the file itself travels unchanged in the package.
"""

from __future__ import annotations

from pathlib import Path

MAX_SIDE = 1024


def dicom_preview(path: Path) -> bytes | None:
    """A JPEG preview of the DICOM image at ``path``, or None when it cannot be rendered."""
    from ..dicom.preview import preview

    try:
        shown = preview(path, MAX_SIDE, image_format="JPEG")
    except Exception:  # noqa: BLE001 (a preview is optional; the file still travels)
        return None
    return shown.png if shown is not None else None
