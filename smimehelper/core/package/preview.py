"""Preview images for the package page, rendered when the package is made.

A browser shows JPEG and PNG by itself (the page uses the file as its own preview); a DICOM
image needs rendering here: the stored window (else the full range), MONOCHROME1 inverted (or
as the Presentation LUT Shape says), the
middle frame of a multi-frame image, scaled to at most 1024 pixels and saved as JPEG.

This is a small local renderer because ``smimehelper/core/dicom/preview.py`` (another branch)
had not landed when the package was written; the two should become one.

A preview is a convenience: any failure (compressed pixel data without a decoder, colour
spaces we do not handle, a damaged file) gives no preview, never an error, and the file itself
travels unchanged in the package.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

MAX_SIDE = 1024
JPEG_QUALITY = 88
MAX_FRAME_PIXELS = 64_000_000  # refuse absurd headers instead of allocating gigabytes


def dicom_preview(path: Path) -> bytes | None:
    """A JPEG preview of the DICOM image at ``path``, or None when it cannot be rendered."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _render(path)
    except Exception:  # pydicom/numpy/Pillow raise many kinds on odd files; a preview is optional
        return None


def _render(path: Path) -> bytes | None:
    import numpy as np
    import pydicom
    from PIL import Image

    header = pydicom.dcmread(path, stop_before_pixels=True)
    rows, columns = int(header.Rows), int(header.Columns)
    frames = int(getattr(header, "NumberOfFrames", 1) or 1)
    if rows * columns > MAX_FRAME_PIXELS:
        return None
    # Read only the middle frame from the file (pydicom 3 does not load the others), so a
    # 200 MB multi-frame study costs one frame of memory.
    with open(path, "rb") as handle:
        pixels = pydicom.pixels.pixel_array(handle, index=frames // 2 if frames > 1 else None)
    step = max(1, -(-max(rows, columns) // (2 * MAX_SIDE)))
    photometric = str(getattr(header, "PhotometricInterpretation", "MONOCHROME2")).upper()
    if pixels.ndim == 3 and pixels.shape[-1] == 3:  # pydicom already converted YBR to RGB
        image = Image.fromarray(_to_uint8(pixels[::step, ::step].astype(np.float32)), mode="RGB")
    elif photometric in ("MONOCHROME1", "MONOCHROME2") and pixels.ndim == 2:
        values = pydicom.pixels.apply_modality_lut(pixels[::step, ::step], header).astype(np.float32)
        values = _window(values, header)
        if _inverted(header, photometric):
            values = 255.0 - values
        image = Image.fromarray(values.astype(np.uint8), mode="L")
    else:
        return None
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _inverted(header, photometric: str) -> bool:  # type: ignore[no-untyped-def]
    """A Presentation LUT Shape, when present, decides (PS3.3 C.11.6); else MONOCHROME1 is inverted."""
    shape = str(getattr(header, "PresentationLUTShape", "") or "").upper()
    if shape in ("IDENTITY", "INVERSE"):
        return shape == "INVERSE"
    return photometric == "MONOCHROME1"


def _window(values, dataset):  # type: ignore[no-untyped-def]
    """Map to 0..255 with the first stored window (DICOM PS3.3 C.11.2.1.2), else min..max."""
    import numpy as np

    center, width = getattr(dataset, "WindowCenter", None), getattr(dataset, "WindowWidth", None)
    if center is not None and width is not None:
        center = float(center[0] if isinstance(center, pydicom_multivalue()) else center)
        width = float(width[0] if isinstance(width, pydicom_multivalue()) else width)
        if width >= 1:
            low = center - 0.5 - (width - 1) / 2
            high = center - 0.5 + (width - 1) / 2
            return np.clip((values - low) / max(high - low, 1e-9) * 255.0, 0, 255)
    return _to_uint8(values).astype(np.float64)


def _to_uint8(values):  # type: ignore[no-untyped-def]
    import numpy as np

    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return ((values - low) / (high - low) * 255.0).astype(np.uint8)


def pydicom_multivalue() -> type:
    from pydicom.multival import MultiValue

    return MultiValue
