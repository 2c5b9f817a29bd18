"""Remove patient details from DICOM files: PS3.15 Annex E Basic Application Level
Confidentiality Profile with the options of :class:`DeidOptions` (table: annex_e.py).

One :class:`DeidSession` is one send: every UID is replaced by a UID derived from it with
HMAC-SHA256 under a random per-send key, so the same input UID gets the same output UID in every
file of the send (the study, its series and the references between images stay linked) and a
different one in the next send; dates are shifted by one per-send number of days.

Two engines, one set of decisions (decisions.py): most files (Explicit VR Little Endian and the
compressed syntaxes) are rewritten at the byte level without pydicom (fastdeid.py); any file
that engine is not certain about (implicit VR, big endian, deflate, odd lengths, UN values...)
goes through pydicom here. Either way the header is de-identified in memory and the pixel data
is copied from the original file to the output, so a 1 GB CBCT volume needs a few MB. Originals
are only ever read; each output file is written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import InputFileError, UserError
from .annex_e import DeidOptions  # noqa: F401  (re-exported: callers import it from here too)
from .decisions import (
    EMPTY, ITEMS, KEEP, META_REMOVED, PSEUDONYMS, REMOVE, TEXT_VRS, Decider, DeidentifyError, DeidResult,
    DeidSession, finishing_attributes, identifying_terms, media_storage_uid, scrub, shift_date,
)
from .completeness import PIXEL_TAGS, ROWS, SOP_CLASS_UID, missing_part
from .files import os_reason, replacing_writer, require_regular_file
from .pixelcopy import copy_pixel_element
from .annex_e import implausible
from .rawdicom import EXPLICIT_LE_SYNTAXES, VRS, Damaged, Implausible
from .safe_private import is_safe_private

__all__ = ["DeidSession", "DeidResult", "DeidentifyError", "deidentify_file", "deidentify_files",
           "identifying_terms", "scrub", "shift_date"]

_PSEUDONYMS = PSEUDONYMS  # the name the tests and older callers use


def deidentify_file(source: Path, output: Path, session: DeidSession, *, engine: str = "auto",
                    write_back: bool = False, staged: bool = False) -> DeidResult:
    """Write a de-identified copy of ``source`` to ``output`` (never the same file).

    ``engine``: "auto" (the byte-level engine when it is certain, else pydicom), "pydicom".
    ``write_back``: the copy is kept (the caller syncs at the end): start writing it to disk
    at once; ``staged``: ``output`` is a new name in a private staging folder (both:
    files.replacing_writer)."""
    source, output = Path(source), Path(output)
    if output.exists() and source.exists() and os.path.samefile(source, output):
        raise DeidentifyError(f"{output} is the original file; choose another folder for the de-identified copies.")
    require_regular_file(source)
    try:
        if engine == "auto":
            from .fastdeid import Unsupported, deidentify_fast

            try:
                return deidentify_fast(source, output, session, write_back=write_back, staged=staged)
            except Damaged:  # pydicom would copy what is there and drop the rest silently
                raise
            except Unsupported:
                pass  # nothing was written: the general engine below decides
        elif engine != "pydicom":
            raise ValueError(f"unknown engine {engine!r}")
        return _with_pydicom(source, output, session, write_back, staged)
    except FileNotFoundError:
        raise InputFileError(f"{source} does not exist.") from None
    except PermissionError as exc:
        raise InputFileError(f"{exc.filename or source} cannot be opened (permission denied).") from None
    except UserError:
        raise
    except Implausible as exc:
        raise DeidentifyError(
            f"{source.name} is damaged ({exc}). It was not copied: patient details could hide in the damaged "
            "part. Ask for the file again; send it as it is only if the colleague may see the patient details."
        ) from None
    except Damaged as exc:
        raise DeidentifyError(
            f"{source.name} is damaged ({exc}: part of it is missing). It was not copied; "
            "ask for the file again.") from None
    except OSError as exc:
        raise DeidentifyError(f"Cannot write {output}: {os_reason(exc)}. The original is unchanged.") from None
    except Exception as exc:  # pydicom raises many kinds on damaged files
        if type(exc).__name__ == "InvalidDicomError":
            raise InputFileError(f"{source.name} is not a DICOM file, so it cannot be de-identified.") from None
        raise DeidentifyError(
            f"{source.name} could not be de-identified ({type(exc).__name__}: the file is damaged or unusual). "
            "It was not copied; send it only if the colleague may see the patient details."
        ) from None


def _with_pydicom(source: Path, output: Path, session: DeidSession, write_back: bool, staged: bool) -> DeidResult:
    import pydicom

    with open(source, "rb") as src, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(src, stop_before_pixels=True)
        pixel_start = src.tell()
        ts = str(ds.file_meta.get("TransferSyntaxUID", ""))
        streamable = ts in _STREAMABLE
        no_pixels = pixel_start >= os.fstat(src.fileno()).st_size
        if streamable and no_pixels:  # (deflate: positions in the inflated stream)
            _check_the_end(ds, pixel_start)
        if not streamable:  # deflated or big endian: read whole, let pydicom re-encode
            src.seek(0)
            ds = pydicom.dcmread(src)
            no_pixels = not any(tag in ds for tag in PIXEL_TAGS)
        missing = _missing_part(ds) if no_pixels else None  # a report, or an x-ray cut short
        counts = _Walker(session, ds).run()  # (names a damaged value first)
        if missing is not None:
            raise Damaged(missing)
        _finish(ds, session)
        with replacing_writer(output, write_back=write_back, staged=staged) as out:
            if streamable:
                _write_header(out, ds, implicit=ts == "1.2.840.10008.1.2")
                src.seek(pixel_start)
                copy_pixel_element(src, out, implicit=ts == "1.2.840.10008.1.2")
            else:
                ds.save_as(out, enforce_file_format=True)
    return DeidResult(source, output, *counts, engine="pydicom")


def _missing_part(ds: Any) -> str | None:
    """completeness.missing_part of a data set without pixel data (read before the walk changes it;
    pydicom sees a file cut exactly between two attributes as a whole, shorter one)."""
    sop_class = ds.get_item(SOP_CLASS_UID) if SOP_CLASS_UID in ds else None  # as read (raw): left as it is
    value = getattr(sop_class, "value", None)
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value) if value is not None else None
    return missing_part(empty=len(ds) == 0, has_pixels=False, has_rows=ROWS in ds, sop_class=text)


def _check_the_end(ds: Any, size: int) -> None:
    """pydicom reads a file that ends inside an element's header as if it ended before it: the
    element is silently gone (the whole pixel data, say). A file without pixel data ends exactly
    where its last element ends."""
    last = ds.get_item(max(ds.keys())) if len(ds) else None
    length = getattr(last, "length", None)
    value_tell = getattr(last, "value_tell", None)
    if isinstance(length, int) and length != 0xFFFFFFFF and isinstance(value_tell, int) and value_tell + length < size:
        raise Damaged("it ends inside its header")


def deidentify_files(
    sources: Sequence[Path], out_dir: Path, session: DeidSession, *,
    names: Sequence[str] | None = None, progress: Callable[[int, int], None] | None = None,
) -> list[DeidResult]:
    """De-identify each file into ``out_dir`` under a neutral name (IMG00001.dcm ...): original
    file names often carry the patient's name."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise InputFileError(f"{out_dir} is not a folder. Create it first.")
    results = []
    for number, source in enumerate(sources, start=1):
        name = names[number - 1] if names else f"IMG{number:05d}.dcm"
        results.append(deidentify_file(source, out_dir / name, session))
        if progress:
            progress(number, len(sources))
    return results


# Implicit VR Little Endian, Explicit VR Little Endian and every encapsulated (compressed) syntax.
_STREAMABLE = {"1.2.840.10008.1.2"} | EXPLICIT_LE_SYNTAXES


def _write_header(out: BinaryIO, ds: Any, *, implicit: bool) -> None:
    """Preamble, "DICM", File Meta (PS3.10 7.1) and the de-identified header, little endian.

    pydicom's own writer functions, without dcmwrite's deep copy of the File Meta: attributes
    left as read (most of them: kept unchanged) are written byte for byte from the original."""
    from pydicom.filebase import DicomFileLike
    from pydicom.filewriter import write_dataset, write_file_meta_info

    fp = DicomFileLike(out)
    fp.write(ds.preamble)
    fp.write(b"DICM")
    write_file_meta_info(fp, ds.file_meta, enforce_standard=True)
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit
    write_dataset(fp, ds)


class _Walker:
    """Applies the decisions to a pydicom dataset and every dataset nested in its sequences."""

    def __init__(self, session: DeidSession, ds: Any) -> None:
        self.decider = Decider(session)
        if self.decider.needs_terms():
            self.decider.terms = identifying_terms(lambda tag: ds[tag].value if tag in ds else None)
        self.options = session.options
        self.ds = ds

    def run(self) -> tuple[int, int, int, int]:
        meta = getattr(self.ds, "file_meta", None)
        for tag in list(meta.keys()) if meta is not None else []:
            raw = meta.get_item(tag)  # as read (a raw element)
            length = getattr(raw, "length", None)
            value = raw.value if isinstance(getattr(raw, "value", None), bytes) else None
            if isinstance(length, int) and (problem := implausible(int(tag), raw.VR, length, value)):
                raise Implausible(problem)  # a File Meta value that swallowed the data set
        self._dataset(self.ds)
        if meta is not None:
            for tag in META_REMOVED:
                if tag in meta:
                    del meta[tag]
        return tuple(self.decider.counts)  # type: ignore[return-value]

    def _dataset(self, ds: Any) -> None:
        from pydicom.dataelem import DataElement

        private: list[int] = []
        private_kept: set[int] = set()
        actions = self.decider.actions
        previous = -1
        for tag in list(ds.keys()):  # in the order of the file
            tag = int(tag)
            if tag <= previous and getattr(ds.get_item(tag), "is_implicit_VR", False):
                # PS3.5 7.1: ascending. pydicom sorts them; in Implicit VR nothing else shows that a
                # damaged tag relabelled a value (Explicit VR: the VR does, checked below)
                raise Implausible(f"attribute ({tag >> 16:04X},{tag & 0xFFFF:04X}) comes after "
                                  f"({previous >> 16:04X},{previous & 0xFFFF:04X}): a tag is damaged")
            previous = tag
            if tag & 0x10000:  # an odd group: private
                private.append(tag)
                if self.options.keep_safe_private and not 0x10 <= (tag & 0xFFFF) <= 0xFF:
                    elem = ds[tag]
                    if is_safe_private(ds, elem):
                        private_kept.add(tag)
                        private_kept.add((tag & 0xFFFF0000) | ((tag >> 8) & 0xFF))
                continue
            if tag >> 16 == 2:
                raise Implausible(f"File Meta attribute ({tag >> 16:04X},{tag & 0xFFFF:04X}) inside the data set")
            action = actions(tag)
            raw = ds.get_item(tag)
            vr = raw.VR
            length = getattr(raw, "length", None)  # as read (a raw element; before UN is decoded)
            if isinstance(length, int) and length != 0xFFFFFFFF and isinstance(getattr(raw, "value", None), bytes) \
                    and len(raw.value) != length:  # pydicom keeps what is there when the file ends inside it
                raise Damaged("it ends inside an element")
            if action != "X" and isinstance(vr, str) and len(vr) == 2 and vr.encode() not in VRS:
                raise ValueError(f"unknown VR {vr!r}")  # written back it would break the file
            if action != "X" and (vr is None or vr in ("SQ", "UN")):
                # A sequence (its items are de-identified too) or a value whose VR the file
                # does not state (implicit VR; UN: it may be a sequence): decoded to look inside.
                vr = ds[tag].VR
            outcome, value = self.decider.decide(tag, vr, action, lambda tag=tag: ds[tag].value)
            if outcome == KEEP:
                kept = raw.value if isinstance(getattr(raw, "value", None), bytes) else None
                if isinstance(length, int) and (problem := implausible(tag, raw.VR, length, kept)):
                    raise Implausible(problem)
                continue  # kept as read, never decoded unless needed: written back byte for byte
            if outcome == REMOVE:
                del ds[tag]
            elif outcome == ITEMS:
                for item in ds[tag].value:
                    self._dataset(item)
            elif outcome == EMPTY:
                ds[tag] = DataElement(tag, vr, [] if vr == "SQ" else "" if vr in TEXT_VRS else None)
            else:
                ds[tag].value = value
        for tag in private:
            if tag not in private_kept:
                del ds[tag]
                self.decider.private_removed()


def _finish(ds: Any, session: DeidSession) -> None:
    """What PS3.15 E.1.1 requires on every de-identified instance (decisions.finishing_attributes)."""
    from pydicom.dataset import Dataset

    ds.preamble = b"\x00" * 128  # the preamble may hold anything (a TIFF header with names...)
    for tag, vr, value in finishing_attributes(session.options):
        if vr == "SQ":
            items = []
            for attributes in value:
                item = Dataset()
                for item_tag, item_vr, item_value in attributes:
                    item.add_new(item_tag, item_vr, item_value)
                items.append(item)
            value = items
        ds.add_new(tag, vr, value)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and (0x00080018 in ds or 0x00020003 in meta):
        present = 0x00080018 in ds
        meta.MediaStorageSOPInstanceUID = media_storage_uid(
            session, ds.SOPInstanceUID if present else None, present, meta.get("MediaStorageSOPInstanceUID"))
