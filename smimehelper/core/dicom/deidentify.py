"""Remove patient details from DICOM files: PS3.15 Annex E Basic Application Level
Confidentiality Profile with the options of :class:`DeidOptions` (table: annex_e.py).

One :class:`DeidSession` is one send: every UID is replaced by a UID derived from it with
HMAC-SHA256 under a random per-send key, so the same input UID gets the same output UID in every
file of the send (the study, its series and the references between images stay linked) and a
different one in the next send; dates are shifted by one per-send number of days.

The header is de-identified in memory, the pixel data is copied from the original file to the
output file in chunks, so a 1 GB CBCT volume needs a few MB. Originals are only ever read; each
output file is written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import InputFileError, UserError
from .annex_e import BASIC_CODE, OPTION_CODES, ActionTable, DeidOptions
from .files import os_reason, replacing_writer, require_regular_file
from .pixelcopy import copy_pixel_element
from .safe_private import is_safe_private

_TEXT_VRS = {"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT", "UR"}
_DUMMY_TEXT = "ANONYMIZED"
_DUMMY = {"DA": "19000101", "DT": "19000101000000", "TM": "000000", "AS": "000D", "DS": "0", "IS": "0",
          "UR": "urn:anonymized"}
_BINARY_NUMBERS = {"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV", "AT"}


class DeidentifyError(UserError):
    """A file could not be de-identified; nothing was written for it."""


@dataclass
class DeidSession:
    """The state of one send: the key behind its UIDs and its date shift."""

    options: DeidOptions = field(default_factory=DeidOptions)
    key: bytes = field(default_factory=lambda: os.urandom(32))
    _table: ActionTable | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def actions(self) -> ActionTable:
        """The Annex E action of every tag under these options (built once per session)."""
        if self._table is None:
            self._table = ActionTable(self.options)
        return self._table

    def __getstate__(self) -> dict[str, Any]:  # to worker processes: options and key only
        return {"options": self.options, "key": self.key, "_table": None}

    @property
    def date_shift_days(self) -> int:
        """Days to move every date back (366..3652), the same for every file of the send."""
        digest = hmac.new(self.key, b"date-shift", hashlib.sha256).digest()
        return 366 + int.from_bytes(digest[:4], "big") % 3287

    def new_uid(self, old: str) -> str:
        """``2.25.<128-bit number>`` (PS3.5 B.2), a keyed hash of the original UID."""
        digest = hmac.new(self.key, old.strip().encode("ascii", "replace"), hashlib.sha256).digest()
        return "2.25." + str(int.from_bytes(digest[:16], "big"))


@dataclass(frozen=True)
class DeidResult:
    source: Path
    output: Path
    removed: int  # attributes removed
    emptied: int
    replaced: int  # dummies and new UIDs
    cleaned: int


def deidentify_file(source: Path, output: Path, session: DeidSession) -> DeidResult:
    """Write a de-identified copy of ``source`` to ``output`` (never the same file)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    source, output = Path(source), Path(output)
    if output.exists() and source.exists() and os.path.samefile(source, output):
        raise DeidentifyError(f"{output} is the original file; choose another folder for the de-identified copies.")
    require_regular_file(source)
    try:
        with open(source, "rb") as src, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(src, stop_before_pixels=True)
            pixel_start = src.tell()
            ts = str(ds.file_meta.get("TransferSyntaxUID", ""))
            streamable = ts in _STREAMABLE
            if not streamable:  # deflated or big endian: read whole, let pydicom re-encode
                src.seek(0)
                ds = pydicom.dcmread(src)
            counts = _Walker(session, ds).run()
            _finish(ds, session)
            with replacing_writer(output) as out:
                if streamable:
                    _write_header(out, ds, implicit=ts == "1.2.840.10008.1.2")
                    src.seek(pixel_start)
                    copy_pixel_element(src, out, implicit=ts == "1.2.840.10008.1.2")
                else:
                    ds.save_as(out, enforce_file_format=True)
    except FileNotFoundError:
        raise InputFileError(f"{source} does not exist.") from None
    except PermissionError as exc:
        raise InputFileError(f"{exc.filename or source} cannot be opened (permission denied).") from None
    except InvalidDicomError:
        raise InputFileError(f"{source.name} is not a DICOM file, so it cannot be de-identified.") from None
    except UserError:
        raise
    except OSError as exc:
        raise DeidentifyError(f"Cannot write {output}: {os_reason(exc)}. The original is unchanged.") from None
    except Exception as exc:  # pydicom raises many kinds on damaged files
        raise DeidentifyError(
            f"{source.name} could not be de-identified ({type(exc).__name__}: the file is damaged or unusual). "
            "It was not copied; send it only if the colleague may see the patient details."
        ) from None
    return DeidResult(source, output, *counts)


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


_STREAMABLE = {"1.2.840.10008.1.2"} | {
    # explicit VR little endian and every encapsulated (compressed) syntax
    "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203", "1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.101", "1.2.840.10008.1.2.4.102",
    "1.2.840.10008.1.2.4.103", "1.2.840.10008.1.2.4.104", "1.2.840.10008.1.2.4.105", "1.2.840.10008.1.2.4.106",
    "1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.111", "1.2.840.10008.1.2.4.112",
}


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
    """Applies the table to a dataset and every dataset nested in its sequences."""

    def __init__(self, session: DeidSession, ds: Any) -> None:
        self.session = session
        self.options = session.options
        self.actions = session.actions
        self.terms = identifying_terms(ds) if self.options.clean_descriptors or self.options.keep_patient_characteristics else ()
        self.counts = [0, 0, 0, 0]
        self.ds = ds

    def run(self) -> tuple[int, int, int, int]:
        self._dataset(self.ds)
        meta = getattr(self.ds, "file_meta", None)
        if meta is not None:
            for keyword in ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle",
                            "ReceivingApplicationEntityTitle", "PrivateInformationCreatorUID", "PrivateInformation"):
                if keyword in meta:
                    del meta[keyword]
        return tuple(self.counts)  # type: ignore[return-value]

    def _dataset(self, ds: Any) -> None:
        from pydicom.dataelem import DataElement

        private: list[int] = []
        private_kept: set[int] = set()
        actions = self.actions
        for tag in list(ds.keys()):
            tag = int(tag)
            if tag & 0x10000:  # an odd group: private
                private.append(tag)
                if self.options.keep_safe_private and not 0x10 <= (tag & 0xFFFF) <= 0xFF:
                    elem = ds[tag]
                    if is_safe_private(ds, elem):
                        private_kept.add(tag)
                        private_kept.add((tag & 0xFFFF0000) | ((tag >> 8) & 0xFF))
                continue
            action = actions(tag)
            if action == "X":
                del ds[tag]
                self.counts[0] += 1
                continue
            vr = ds.get_item(tag).VR
            if vr is None or vr in ("SQ", "UN"):
                # A sequence (its items are de-identified too) or a value whose VR the file
                # does not state (implicit VR; UN: it may be a sequence): decoded to look inside.
                self._element(ds, ds[tag], action)
            elif action == "K":
                continue  # kept as read, never decoded: written back byte for byte
            elif action == "Z" and tag not in _PSEUDONYMS:
                ds[tag] = DataElement(tag, vr, "" if vr in _TEXT_VRS else None)
                self.counts[1] += 1
            else:
                self._element(ds, ds[tag], action)
        for tag in private:
            if tag not in private_kept:
                del ds[tag]
                self.counts[0] += 1

    def _element(self, ds: Any, elem: Any, action: str) -> None:
        vr = elem.VR
        if action == "X":
            del ds[elem.tag]
            self.counts[0] += 1
        elif vr == "SQ":
            if action == "Z":
                elem.value = []
                self.counts[1] += 1
            else:  # K, C, D, U, U*: keep the items, de-identify what is inside them
                for item in elem.value:
                    self._dataset(item)
        elif action == "K":
            return
        elif action == "Z" and int(elem.tag) in _PSEUDONYMS:
            # Z allows "a non-zero length dummy value": viewers and DICOMDIR patient records need
            # a Patient ID; one keyed pseudonym per patient per send keeps patients apart.
            elem.value = _PSEUDONYMS[int(elem.tag)](self.session, str(elem.value or ""))
            self.counts[2] += 1
        elif action == "Z":
            elem.value = None if vr not in _TEXT_VRS else ""
            self.counts[1] += 1
        elif action in ("U", "U*"):
            if vr == "UI":
                elem.value = _map_values(elem.value, self.session.new_uid)
                self.counts[2] += 1
            else:
                elem.value = None
                self.counts[1] += 1
        elif action == "D":
            elem.value = _dummy(vr, elem.value, self.session)
            self.counts[2] += 1
        elif action == "C":
            elem.value = self._clean(vr, elem.value)
            self.counts[3] += 1

    def _clean(self, vr: str, value: Any) -> Any:
        if vr in ("DA", "DT") and self.options.shift_dates:
            return _map_values(value, lambda v: shift_date(v, self.session.date_shift_days))
        if vr == "TM":
            return value  # whole days are shifted, the time of day stays
        if vr in _TEXT_VRS and value not in (None, ""):
            return _map_values(value, lambda v: scrub(str(v), self.terms))
        if vr in ("DA", "DT"):
            return None
        return value


def _pseudonym(session: DeidSession, original: str) -> str:
    digest = hmac.new(session.key, b"patient:" + original.strip().encode("utf-8", "replace"), hashlib.sha256)
    return "ANON" + digest.hexdigest()[:10].upper()


_PSEUDONYMS: dict[int, Callable[[DeidSession, str], str]] = {
    0x00100020: _pseudonym,  # Patient ID
    0x00100010: lambda session, original: "ANONYMOUS",  # Patient's Name
    # Type 1 in the DICOMDIR's STUDY record (PS3.3 F.5.2), so a File-set can be built: dummies
    # that carry nothing.
    0x00080020: lambda session, original: "19000101",  # Study Date
    0x00080030: lambda session, original: "000000",  # Study Time
    0x00200010: lambda session, original: "ANON",  # Study ID
}


def _map_values(value: Any, fn: Callable[[str], str]) -> Any:
    if value is None or value == "":
        return value
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [fn(str(v)) for v in value]
    return fn(str(value))


def _dummy(vr: str, value: Any, session: DeidSession) -> Any:
    if vr == "UI":
        return _map_values(value, session.new_uid) if value else session.new_uid("dummy")
    if vr in _TEXT_VRS:
        return _DUMMY_TEXT
    if vr in _DUMMY:
        return _DUMMY[vr]
    if vr in _BINARY_NUMBERS:
        return 0
    return b"\x00\x00"  # OB, OW, UN...: a non-empty value that says nothing


def shift_date(value: str, days: int) -> str:
    """Move a DA (YYYYMMDD) or the date part of a DT back by ``days``; a DA range "A-B" part by
    part. A partial or malformed date carries no safe meaning and is emptied."""
    value = value.strip()
    if len(value) != 8 and "-" in value and re.fullmatch(r"\d{0,8}-\d{0,8}", value):
        return "-".join(shift_date(part, days) if part else "" for part in value.split("-"))
    match = re.fullmatch(r"(\d{8})(\d*(?:\.\d*)?(?:[+-]\d{4})?)", value)
    if not match:
        return ""
    try:
        date = dt.datetime.strptime(match.group(1), "%Y%m%d").date() - dt.timedelta(days=days)
    except ValueError:
        return ""
    return date.strftime("%Y%m%d") + match.group(2)


def identifying_terms(ds: Any) -> tuple[str, ...]:
    """Values that identify the patient, to scrub from free text kept under Clean Descriptors."""
    terms: set[str] = set()
    for keyword in ("PatientName", "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName",
                    "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName", "NameOfPhysiciansReadingStudy"):
        for value in _values(ds.get(keyword)):
            terms.update(p for p in re.split(r"[\^= ,]+", str(value)) if len(p) >= 2)
    for keyword in ("PatientID", "OtherPatientIDs", "AccessionNumber", "PatientBirthDate", "InstitutionName",
                    "PatientAddress", "PatientTelephoneNumbers", "MedicalRecordLocator", "StudyID"):
        terms.update(str(v).strip() for v in _values(ds.get(keyword)) if len(str(v).strip()) >= 2)
    birth = str(ds.get("PatientBirthDate", "") or "")
    if len(birth) == 8 and birth.isdigit():
        terms.update({f"{birth[6:8]}.{birth[4:6]}.{birth[:4]}", f"{birth[:4]}-{birth[4:6]}-{birth[6:8]}",
                      f"{birth[4:6]}/{birth[6:8]}/{birth[:4]}"})
    return tuple(sorted(terms, key=len, reverse=True))


def _values(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


def scrub(text: str, terms: Sequence[str]) -> str:
    """``text`` with every identifying term removed (case-insensitive)."""
    for term in terms:
        text = re.sub(re.escape(term), "", text, flags=re.IGNORECASE)
    return re.sub(r"\s{2,}", " ", text).strip()


def _finish(ds: Any, session: DeidSession) -> None:
    """What PS3.15 E.1.1 requires on every de-identified instance."""
    from pydicom.dataset import Dataset

    options = session.options
    ds.preamble = b"\x00" * 128  # the preamble may hold anything (a TIFF header with names...)
    ds.PatientIdentityRemoved = "YES"
    names = ["DICOM PS3.15 E.1 Basic Profile"] + [OPTION_CODES[o][1][:64] for o in options.enabled()]
    ds.DeidentificationMethod = names if len(names) > 1 else names[0]
    items = []
    for value, meaning in (BASIC_CODE, *(OPTION_CODES[o] for o in options.enabled())):
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = items
    ds.LongitudinalTemporalInformationModified = (
        "MODIFIED" if options.shift_dates else "UNMODIFIED" if options.keep_dates else "REMOVED"
    )
    if "SOPInstanceUID" in ds and getattr(ds, "file_meta", None) is not None:
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
