"""Thumbnails of attachments for Compose and Open: photos by Qt, DICOM images from their pixel
data (windowing, MONOCHROME1 inverted, the middle frame of a multi-frame study).

Runs on the task runner (QImage may be made off the GUI thread; QPixmap may not). A thumbnail
is a convenience: any failure gives None and the list shows the file's type icon instead.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QImageReader

IMAGE_TYPES = {"image/jpeg", "image/png", "image/tiff", "image/gif", "image/bmp"}
DICOM = "application/dicom"


def dicom_preview_png(path: Path, max_side: int) -> bytes | None:
    """The one place the DICOM renderer is chosen: the DICOM package's (VOI LUT or window,
    MONOCHROME1, Presentation LUT Shape, the middle frame), PNG at most ``max_side`` pixels."""
    from ..core.dicom.preview import preview_png

    return preview_png(path, max_side)


def thumbnail(path: Path, content_type: str | None, side: int) -> QImage | None:
    """A thumbnail at most ``side`` pixels on its longer side, or None."""
    try:
        if content_type == DICOM:
            data = dicom_preview_png(path, max(side, 64))
            image = QImage.fromData(data) if data else QImage()
        elif content_type in IMAGE_TYPES:
            reader = QImageReader(str(path))
            reader.setAutoTransform(True)
            size = reader.size()
            if size.isValid() and (size.width() > side or size.height() > side):
                reader.setScaledSize(size.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio))
            image = reader.read()
        else:
            return None
    except Exception:  # a damaged file, a decoder missing: no thumbnail, never an error
        return None
    if image.isNull():
        return None
    return image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


__all__ = ["DICOM", "IMAGE_TYPES", "dicom_preview_png", "thumbnail"]
