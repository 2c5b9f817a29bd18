"""A real preview of a DICOM image, as a PNG, for Compose, Open and the password package.

The grey values are shown the way a viewer would show them: the Modality LUT (rescale) first,
then the file's VOI LUT or its window centre/width (PS3.3 C.11.2.1.2, LINEAR, LINEAR_EXACT and
SIGMOID), else the full range of the image; MONOCHROME1 is inverted (white is "no signal");
palette colour and YBR are turned into RGB. Of a multi-frame image (a CBCT volume, an
ultrasound loop) only the middle frame is decoded, so a 1 GB file previews in bounded memory.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputFileError
from .files import require_regular_file

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


@dataclass(frozen=True)
class Preview:
    """A preview image and what it shows."""

    png: bytes  # the encoded picture (PNG unless another image_format was asked for)
    width: int
    height: int
    frame: int  # 0-based index of the frame shown
    frames: int  # how many frames the file has
    photometric: str


def preview_png(path: Path, max_side: int = 512) -> bytes | None:
    """PNG bytes of a preview no larger than ``max_side`` on its longer side; None when the
    file has no pixel data that can be shown (a report, a structured report, an unsupported
    compression). Raises :class:`InputFileError` when the file is not a readable DICOM file."""
    shown = preview(path, max_side)
    return shown.png if shown is not None else None


def thumbnail_png(path: Path, side: int = 128) -> bytes | None:
    """A small preview for a list of attachments (same rules as :func:`preview_png`)."""
    return preview_png(path, side)


def preview(path: Path, max_side: int = 512, *, image_format: str = "PNG") -> Preview | None:
    """Like :func:`preview_png`, with the size and the frame shown; ``image_format="JPEG"``
    for a smaller picture where a photo-like rendering is enough (the password package)."""
    if max_side < 1:
        raise ValueError("max_side must be positive")
    header = read_header(path)
    if not any(k in header for k in _PIXEL_KEYWORDS):
        return None
    frames = _frame_count(header)
    index = frames // 2
    try:
        import numpy as np
        import pydicom
        from pydicom import pixels

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                arr = pixels.pixel_array(str(path), index=index if frames > 1 else None)
            except ValueError:
                if frames > 1:
                    raise
                # pydicom's frame reader is stricter than its dataset decoder about the item
                # framing of some files (an empty offset table written as zeros): one frame
                # is small, so decode it from the dataset instead.
                arr = pydicom.dcmread(str(path)).pixel_array
            rgb = _to_display(np.asarray(arr), header, index)
    except (ImportError, NotImplementedError, RuntimeError, ValueError, KeyError, AttributeError, TypeError, IndexError, OSError):
        # No decoder for this transfer syntax, or pixel data that does not match the header:
        # the file is still sent as it is, it just has no preview.
        return None
    return _encode(rgb, max_side, index, frames, str(header.get("PhotometricInterpretation", "")), image_format)


def read_header(path: Path) -> Any:
    """The DICOM header without pixel data; InputFileError when it is not a DICOM file."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = require_regular_file(Path(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(path, stop_before_pixels=False, defer_size=1024)
    except FileNotFoundError:
        raise InputFileError(f"{path} does not exist.") from None
    except PermissionError:
        raise InputFileError(f"{path} cannot be read (permission denied).") from None
    except InvalidDicomError:
        raise InputFileError(f"{path.name} is not a DICOM file.") from None
    except Exception as exc:  # pydicom raises many kinds on damaged files
        raise InputFileError(f"{path.name} is a damaged DICOM file ({type(exc).__name__}); it cannot be read.") from None


def _frame_count(ds: Any) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _to_display(arr: Any, ds: Any, index: int) -> Any:
    """uint8 array, (rows, cols) for grey or (rows, cols, 3) for colour."""
    import numpy as np
    from pydicom import pixels

    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if arr.ndim == 4:  # several frames came back after all (should not with index)
        arr = arr[arr.shape[0] // 2]
    if photometric == "PALETTE COLOR":
        lut = pixels.apply_color_lut(arr, ds)
        return _scale_to_8bit(lut, _lut_bits(ds))
    if samples == 3 or arr.ndim == 3:
        if arr.ndim == 2:
            raise ValueError("colour header but grey pixel data")
        bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 8)) or 8)
        return _scale_to_8bit(arr, bits)
    if arr.ndim != 2:
        raise ValueError("unexpected pixel array shape")
    values = pixels.apply_modality_lut(arr, ds).astype(np.float64)
    grey = _voi(values, ds, index)
    if _inverted(ds, photometric):
        grey = 255.0 - grey
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)


def _inverted(ds: Any, photometric: str) -> bool:
    """A Presentation LUT Shape, when present, decides (PS3.3 C.11.6, as DCMTK renders it);
    else MONOCHROME1 is inverted (white is "no signal")."""
    shape = str(ds.get("PresentationLUTShape", "") or "").upper()
    if shape in ("IDENTITY", "INVERSE"):
        return shape == "INVERSE"
    return photometric == "MONOCHROME1"


def _voi(values: Any, ds: Any, index: int) -> Any:
    """0..255 floats: VOI LUT if present, else the first window, else min..max."""
    import numpy as np
    from pydicom import pixels

    if "VOILUTSequence" in ds and len(ds.VOILUTSequence):
        item = ds.VOILUTSequence[0]
        out = pixels.apply_voi(values.astype(np.int64) if np.all(np.mod(values, 1) == 0) else values, ds, index=0)
        bits = int(item.LUTDescriptor[2]) if "LUTDescriptor" in item else 16
        return np.asarray(out, dtype=np.float64) * (255.0 / max(1, (1 << bits) - 1))
    centre, width, function = _window(ds, index)
    if centre is not None and width is not None and width >= 1:
        if function == "SIGMOID":
            return 255.0 / (1.0 + np.exp(-4.0 * (values - centre) / width))
        if function == "LINEAR_EXACT":
            return np.clip(((values - centre) / width + 0.5) * 255.0, 0, 255)
        if width <= 1:
            return np.where(values > centre - 0.5, 255.0, 0.0)
        return np.clip(((values - (centre - 0.5)) / (width - 1) + 0.5) * 255.0, 0, 255)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros_like(values)
    return (values - low) * (255.0 / (high - low))


def _window(ds: Any, index: int) -> tuple[float | None, float | None, str]:
    """Window centre/width/function, from the frame's functional groups or the top level."""
    source = ds
    for group in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        seq = ds.get(group)
        if not seq:
            continue
        item = seq[min(index, len(seq) - 1)] if group.startswith("PerFrame") else seq[0]
        voi = item.get("FrameVOILUTSequence")
        if voi:
            source = voi[0]
            break
    centre = _first_number(source.get("WindowCenter"))
    width = _first_number(source.get("WindowWidth"))
    function = str(source.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
    return centre, width, function


def _first_number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        if hasattr(value, "__len__") and not isinstance(value, (str, bytes)):
            value = value[0]
        return float(value)
    except (TypeError, ValueError, IndexError):
        return None


def _lut_bits(ds: Any) -> int:
    descriptor = ds.get("RedPaletteColorLookupTableDescriptor")
    try:
        return int(descriptor[2]) if descriptor is not None else 16
    except (TypeError, IndexError, ValueError):
        return 16


def _scale_to_8bit(arr: Any, bits: int) -> Any:
    import numpy as np

    if arr.dtype == np.uint8 and bits <= 8:
        return arr
    top = float((1 << max(1, min(bits, 32))) - 1)
    scaled = np.asarray(arr, dtype=np.float64) * (255.0 / top)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _encode(rgb: Any, max_side: int, index: int, frames: int, photometric: str, image_format: str = "PNG") -> Preview:
    import numpy as np
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(rgb))
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if image_format == "JPEG":
        image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(out, format="JPEG", quality=88)
    else:
        image.save(out, format="PNG")
    return Preview(out.getvalue(), image.size[0], image.size[1], index, frames, photometric)
