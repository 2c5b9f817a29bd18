"""Lossless compression of uncompressed DICOM images, frame by frame, verified pixel for pixel.

JPEG-LS Lossless (CharLS via pyjpegls) is the default: it is fast and usually halves a dental or
CT image; JPEG 2000 Lossless (OpenJPEG) and RLE Lossless (pydicom's own encoder) can be chosen.
Frames are read, encoded and written one at a time (a 1 GB CBCT volume stays in bounded memory),
then every frame is decoded again and compared with the original before the file counts as done:
a compressed file that is not pixel-identical is never sent. Files that are already compressed,
have no image or a colour layout that cannot be compressed losslessly are copied unchanged.
"""

from __future__ import annotations

import shutil
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputFileError, UserError
from .files import os_reason, replacing_writer, require_regular_file

METHODS = {
    "jpeg-ls": ("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless"),
    "jpeg2000": ("1.2.840.10008.1.2.4.90", "JPEG 2000 Lossless"),
    "rle": ("1.2.840.10008.1.2.5", "RLE Lossless"),
}
DEFAULT_METHOD = "jpeg-ls"
_NATIVE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}


class CompressionError(UserError):
    """A file could not be compressed losslessly; it was not written."""


@dataclass(frozen=True)
class CompressResult:
    source: Path
    output: Path
    original_size: int
    size: int
    method: str | None  # None: copied unchanged
    note: str = ""  # why it was copied unchanged


def compress_file(source: Path, output: Path, method: str = DEFAULT_METHOD, *, verify: bool = True) -> CompressResult:
    """Write ``source`` losslessly compressed with ``method`` to ``output``."""
    try:
        return _compress_file(source, output, method, verify)
    except OSError as exc:  # a full disk, a read-only folder: not the image's fault
        Path(output).unlink(missing_ok=True)
        raise CompressionError(f"Cannot write {Path(output).name}: {os_reason(exc)}. The original is unchanged.") from None


def _compress_file(source: Path, output: Path, method: str, verify: bool) -> CompressResult:
    import pydicom

    if method not in METHODS:
        raise CompressionError(f"Unknown compression {method!r}; choose one of {', '.join(METHODS)}.")
    source, output = require_regular_file(Path(source)), Path(output)
    try:
        original_size = source.stat().st_size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = pydicom.dcmread(source, stop_before_pixels=True)
    except FileNotFoundError:
        raise InputFileError(f"{source} does not exist.") from None
    except Exception as exc:
        if isinstance(exc, UserError):
            raise
        raise InputFileError(f"{source.name} is not a readable DICOM file.") from None
    note = _why_not(header)
    if note:
        _copy(source, output)
        return CompressResult(source, output, original_size, original_size, None, note)
    uid, name = METHODS[method]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _write_compressed(source, output, header, uid)
            if verify:
                _verify(source, output)
    except CompressionError:
        output.unlink(missing_ok=True)
        raise
    except Exception as exc:  # an encoder that refuses this image: send it uncompressed
        output.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise
        _copy(source, output)
        return CompressResult(source, output, original_size, original_size, None,
                              f"{name} cannot encode this image ({type(exc).__name__}); sent uncompressed")
    size = output.stat().st_size
    if size >= original_size:  # noise compresses badly: the original is the better file
        _copy(source, output)
        return CompressResult(source, output, original_size, original_size, None, "no saving; sent uncompressed")
    return CompressResult(source, output, original_size, size, method)


def compress_files(sources: Sequence[Path], out_dir: Path, method: str = DEFAULT_METHOD) -> list[CompressResult]:
    return [compress_file(s, Path(out_dir) / Path(s).name, method) for s in sources]


def _why_not(ds: Any) -> str:
    ts = str(ds.file_meta.get("TransferSyntaxUID", ""))
    if "Rows" not in ds or "Columns" not in ds or "BitsAllocated" not in ds:
        return "no image"
    if ts not in _NATIVE:
        return "already compressed" if ts else "unknown encoding"
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if photometric not in ("MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR"):
        return f"{photometric} colour cannot be compressed losslessly here"
    if int(ds.get("BitsAllocated", 0) or 0) not in (8, 16):
        return "unusual bit depth"
    return ""


def _frame_args(ds: Any) -> dict[str, Any]:
    return dict(
        rows=int(ds.Rows), columns=int(ds.Columns), samples_per_pixel=int(ds.get("SamplesPerPixel", 1)),
        bits_allocated=int(ds.BitsAllocated), bits_stored=int(ds.BitsStored),
        pixel_representation=int(ds.get("PixelRepresentation", 0)),
        photometric_interpretation=str(ds.PhotometricInterpretation), number_of_frames=1,
        planar_configuration=0,
    )


def _write_compressed(source: Path, output: Path, header: Any, uid: str) -> None:
    from pydicom.pixels import get_encoder, iter_pixels

    encoder = get_encoder(uid)
    if not encoder.is_available:
        raise CompressionError(f"The {METHODS_BY_UID[uid]} encoder is not installed; reinstall smimehelper.")
    args = _frame_args(header)
    out_header = header.copy()
    out_header.file_meta = header.file_meta.copy()
    out_header.file_meta.TransferSyntaxUID = uid
    if "PlanarConfiguration" in out_header:
        out_header.PlanarConfiguration = 0
    out_header.LossyImageCompression = header.get("LossyImageCompression", "00") or "00"
    with replacing_writer(output) as out:
        out_header.save_as(out, enforce_file_format=True)
        out.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF))
        out.write(struct.pack("<HHI", 0xFFFE, 0xE000, 0))  # empty Basic Offset Table
        for frame in iter_pixels(str(source), raw=True):
            data = encoder.encode(frame, **args)
            if len(data) % 2:
                data += b"\x00"
            out.write(struct.pack("<HHI", 0xFFFE, 0xE000, len(data)))
            out.write(data)
        out.write(struct.pack("<HHI", 0xFFFE, 0xE0DD, 0))


METHODS_BY_UID = {uid: name for uid, name in METHODS.values()}


def _verify(source: Path, output: Path) -> None:
    import numpy as np
    from pydicom.pixels import iter_pixels

    originals = iter_pixels(str(source), raw=True)
    count = 0
    for compressed in iter_pixels(str(output), raw=True):
        original = next(originals, None)
        if original is None or original.shape != compressed.shape or not np.array_equal(original, compressed):
            raise CompressionError(f"Compressing {source.name} did not give identical pixels; it was not compressed.")
        count += 1
    if next(originals, None) is not None or count == 0:
        raise CompressionError(f"Compressing {source.name} lost frames; it was not compressed.")


def _copy(source: Path, output: Path) -> None:
    with open(source, "rb") as src, replacing_writer(output) as out:
        shutil.copyfileobj(src, out, 1 << 20)


def saving_text(results: Sequence[CompressResult]) -> str:
    """"412 MB -> 198 MB (52% smaller)" for the user, before sending."""
    before = sum(r.original_size for r in results)
    after = sum(r.size for r in results)
    if before == 0:
        return "nothing to compress"
    return f"{before / 1e6:.1f} MB -> {after / 1e6:.1f} MB ({100 - 100 * after / before:.0f}% smaller)"
